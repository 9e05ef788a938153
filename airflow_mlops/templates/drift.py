"""build_drift_dag: drift (and quality) monitoring of one model, requesting retrains by Asset.

The monitor emits an event of the model's retrain asset (:func:`retrain_asset`) when drift
or decay is confirmed; the retrain template is scheduled on its cron *or* that asset. A run
the asset triggered has no logical date, so its config text takes ``ds`` from the window that
requested it (:func:`~airflow_mlops.operators.templating.requested_window_ds`).
"""

from __future__ import annotations

import functools
from typing import Any

from airflow.sdk import DAG, Asset, AssetOrTimeSchedule, CronTriggerTimetable, TriggerRule, task
from airflow.sdk.exceptions import AirflowFailException

from airflow_mlops.core.config import ModelConfig
from airflow_mlops.core.paths import template_root
from airflow_mlops.operators.drift import DriftCheckOperator, RequestRetrainOperator
from airflow_mlops.operators.quality import ModelQualityOperator
from airflow_mlops.sensors.data import DataPartitionSensor
from airflow_mlops.templates.defaults import dag_arguments, data_wait_seconds

DAG_ID_PREFIX = "drift_monitor"
def retrain_asset(model: str) -> Asset:
    """The asset whose events request a retrain of ``model``."""
    return Asset(name=f"airflow-mlops/{model}/retrain-requested", uri=f"mlops://{model}/retrain")


@functools.cache
def _check_cron(expression: str) -> None:
    """Raise when ``expression`` is no valid cron; each expression is checked once (its
    configs usually share a few): the combined schedule does not check its cron itself."""
    CronTriggerTimetable(expression, timezone="UTC").validate()


def retrain_schedule(config: ModelConfig) -> Any:
    """The model's retrain cron (UTC) or its retrain asset; the asset alone without a cron."""
    asset = retrain_asset(config.name)
    if config.schedule is None:
        return asset
    _check_cron(config.schedule)
    cron = CronTriggerTimetable(config.schedule, timezone="UTC")
    return AssetOrTimeSchedule(timetable=cron, assets=asset)


@task(task_id="fail_run_if_a_task_failed", trigger_rule=TriggerRule.ONE_FAILED)
def fail_run_if_a_task_failed() -> None:
    """Fail the run when a task above failed: request_retrain runs anyway and would hide it."""
    raise AirflowFailException("a monitoring task failed; see the failed task's log")


def build_drift_dag(config: ModelConfig, *, dag_id: str | None = None) -> DAG:
    """The drift (and, with ``drift.quality``, quality) monitor DAG of one model config."""
    drift = config.drift
    data_uri = drift.data_uri or config.data_uri
    common = {"model_name": config.name, "mlflow_conn_id": config.mlflow_conn_id,
              "experiment_name": config.experiment_name}
    policy = {"on_failure": drift.on_failure, "dry_run": drift.dry_run}
    sensor = {"mode": "reschedule", "poke_interval": 60, "timeout": data_wait_seconds(config)}
    with DAG(
        dag_id=dag_id or f"{DAG_ID_PREFIX}_{config.name}",
        description=f"Drift monitoring of {config.name}'s champion; requests retrains",
        schedule=drift.schedule,
        **dag_arguments(config, kind="drift"),
    ) as dag:
        check = DriftCheckOperator(
            task_id="check_drift",
            data_uri=data_uri,
            target=config.target,
            features=config.features,
            prediction=drift.prediction,
            reference_uri=drift.reference_uri,
            reference_roots=[root for root in (template_root(config.data_uri),) if root],
            drift_share=drift.drift_share,
            method=drift.method,
            threshold=drift.threshold,
            columns={c: s.model_dump(exclude_none=True) for c, s in drift.columns.items()},
            sample_size=drift.sample_size,
            seed=config.seed if drift.sample_seed is None else drift.sample_seed,
            **policy,
            **common,
        )
        DataPartitionSensor(task_id="wait_for_data", uri=data_uri, **sensor) >> check
        checks = [check]
        if drift.quality is not None:
            quality = ModelQualityOperator(
                task_id="check_quality",
                data_uri=drift.quality.data_uri,
                target=config.target,
                features=config.features,
                task=config.task,
                metric=drift.quality.metric or config.promotion.primary_metric,
                max_decay=drift.quality.max_decay,
                max_relative_decay=drift.quality.max_relative_decay,
                custom_metrics={name: spec.model_dump()
                                for name, spec in config.promotion.custom_metrics.items()},
                **policy,
                **common,
            )
            DataPartitionSensor(task_id="wait_for_labels", uri=drift.quality.data_uri,
                                **sensor) >> quality
            checks.append(quality)
        request = RequestRetrainOperator(
            task_id="request_retrain",
            retrain_asset=retrain_asset(config.name),
            check_task_ids=[c.task_id for c in checks],
            windows=drift.trigger.windows,
            min_drifted=drift.trigger.min_drifted,
            cooldown_windows=drift.trigger.cooldown_windows,
            cooldown_hours=drift.trigger.cooldown_hours,
            trigger_rule=TriggerRule.ALL_DONE,
            **common,
        )
        checks >> request
        list(dag.tasks) >> fail_run_if_a_task_failed()
    return dag
