"""build_retrain_dag: the nightly validate, train, compare and promote loop for one model."""

from __future__ import annotations

import datetime as dt

from airflow.sdk import DAG, TriggerRule, task

from airflow_mlops.core.config import ModelConfig
from airflow_mlops.operators.evaluation import EvaluateChallengerOperator
from airflow_mlops.operators.registry import PromoteChallengerOperator, RejectChallengerOperator
from airflow_mlops.operators.training import TrainChallengerOperator
from airflow_mlops.operators.validation import ValidateDataOperator
from airflow_mlops.sensors.data import DataPartitionSensor
from airflow_mlops.templates.drift import (
    REQUESTED_WINDOW,
    requested_window_ds,
    retrain_schedule,
)

DEFAULT_ARGS = {
    "retries": 2,
    "retry_delay": dt.timedelta(minutes=1),
    "retry_exponential_backoff": True,
}


@task.branch(task_id="route_decision")
def route_decision(decision: dict) -> str:
    """Follow the evaluation's verdict to the promote or the reject task."""
    return "promote" if decision["verdict"] == "promote" else "reject"


@task(task_id="summary", trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS)
def summarize(validation: dict, decision: dict) -> dict:
    """One row describing the night: data, verdict, metrics and the champion afterwards."""
    metric = decision["primary_metric"]
    promoted = decision["verdict"] == "promote"
    return {
        "rows_validated": validation["rows"],
        "validation": "passed" if validation["success"] else "failed",
        "metric": metric,
        "challenger_version": decision["challenger_version"],
        "challenger_metric": decision["challenger_metrics"][metric],
        "champion_metric": (decision["champion_metrics"] or {}).get(metric),
        "decision": decision["verdict"],
        "reasons": decision["reasons"],
        "champion_after": decision["challenger_version"] if promoted
        else decision["champion_version"],
    }


def build_retrain_dag(config: ModelConfig, *, dag_id: str | None = None) -> DAG:
    """The retrain-and-compare DAG of one model config.

    It runs on the config's cron and whenever drift monitoring requests a retrain (see
    :mod:`airflow_mlops.templates.drift`); such a run reads the requesting window's partition.
    """
    start = dt.datetime.combine(config.start_date, dt.time(), tzinfo=dt.timezone.utc)
    common = {"model_name": config.name, "mlflow_conn_id": config.mlflow_conn_id}
    data_uri = REQUESTED_WINDOW + config.data_uri
    data = {
        "data_uri": data_uri,
        "target": config.target,
        "features": config.features,
        "task": config.task,
        "holdout_fraction": config.holdout_fraction,
        "seed": config.seed,
    }
    with DAG(
        dag_id=dag_id or f"nightly_retrain_{config.name}",
        description=f"Validate, retrain and compare {config.name} against its champion",
        schedule=retrain_schedule(config),
        start_date=start,
        catchup=False,
        max_active_runs=1,
        default_args={**DEFAULT_ARGS, "owner": config.owner},
        tags=["airflow-mlops", "retrain", config.name],
        user_defined_macros={"requested_window_ds": requested_window_ds},
    ) as dag:
        wait = DataPartitionSensor(
            task_id="wait_for_data",
            uri=data_uri,
            mode="reschedule",
            poke_interval=60,
            timeout=config.sensor_timeout_seconds,
        )
        validate = ValidateDataOperator(
            task_id="validate", data_uri=data_uri, suite=str(config.suite)
        )
        train = TrainChallengerOperator(
            task_id="train",
            estimator=config.estimator.model_dump(by_alias=True, exclude_none=True),
            experiment_name=config.experiment_name,
            **common,
            **data,
        )
        evaluate = EvaluateChallengerOperator(
            task_id="evaluate",
            challenger_version="{{ ti.xcom_pull(task_ids='train')['version'] }}",
            policy=config.promotion.model_dump(),
            **common,
            **data,
        )
        promote = PromoteChallengerOperator(
            task_id="promote", decision=evaluate.output, **common
        )
        reject = RejectChallengerOperator(task_id="reject", decision=evaluate.output, **common)
        summary = summarize(validate.output, evaluate.output)
        wait >> validate >> train >> evaluate
        route_decision(evaluate.output) >> [promote, reject] >> summary
    return dag
