"""The churn model's retrain DAG written out by hand: bench/parse.py's baseline.

The same schedule (the cron or the retrain asset), tasks, operators and arguments our template
builds from dags/models/churn.yaml, without the config file, its schema or the factory.
``$PLAIN_RETRAIN_MODELS`` (default 1) copies of it, as a team would write one per model.
"""

import datetime as dt
import os

from airflow.providers.standard.operators.hitl import HITLBranchOperator
from airflow.sdk import DAG, AssetOrTimeSchedule, CronTriggerTimetable, TriggerRule

from airflow_mlops.operators.cards import RecordApproval
from airflow_mlops.operators.decision import NightSummaryOperator, RouteDecisionOperator
from airflow_mlops.operators.deployment import SmokeCheckOperator
from airflow_mlops.operators.evaluation import EvaluateChallengerOperator
from airflow_mlops.operators.registry import PromoteChallengerOperator, RejectChallengerOperator
from airflow_mlops.operators.training import TrainChallengerOperator
from airflow_mlops.operators.validation import ValidateDataOperator
from airflow_mlops.sensors.data import DataPartitionSensor
from airflow_mlops.templates.drift import retrain_asset
from airflow_mlops.templates.retrain import APPROVAL_BODY

ROOT = os.environ.get("AIRFLOW_MLOPS_DATA_ROOT", "/data")
DATA_URI = f"{ROOT}/customers/ds={{{{ ds }}}}/customers.csv"
DATA = {
    "data_uri": DATA_URI,
    "target": "churned",
    "features": ["tenure_months", "monthly_charges", "support_calls", "contract", "region"],
    "task": "classification",
    "holdout_fraction": 0.3,
    "seed": 7,
}
POLICY = {
    "primary_metric": "roc_auc", "threshold": 0.7, "guardrails": {"log_loss": 0.05},
    "slices": {"column": "contract", "min_rows": 30, "max_regression": 0.05},
    "bootstrap": {"resamples": 1000, "confidence": 0.95},
}


def build(name: str) -> None:
    common = {"model_name": name, "mlflow_conn_id": "mlflow_default"}
    with DAG(
        dag_id=f"nightly_retrain_{name}_plain",
        description=f"Validate, retrain and compare {name} against its champion, on cron "
                    "`@daily` (UTC) or when drift monitoring requests a retrain",
        schedule=AssetOrTimeSchedule(timetable=CronTriggerTimetable("@daily", timezone="UTC"),
                                     assets=retrain_asset(name)),
        start_date=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
        catchup=False,
        max_active_runs=1,
        default_args={"owner": "data-science", "retries": 2, "retry_exponential_backoff": 2.0,
                      "retry_delay": dt.timedelta(minutes=1),
                      "max_retry_delay": dt.timedelta(minutes=60),
                      "execution_timeout": dt.timedelta(minutes=240)},
        tags=["airflow-mlops", "retrain", name],
    ):
        wait = DataPartitionSensor(task_id="wait_for_data", uri=DATA_URI, mode="reschedule",
                                   poke_interval=60, timeout=6 * 3600)
        validate = ValidateDataOperator(task_id="validate", data_uri=DATA_URI,
                                        suite="expectations/churn.json",
                                        experiment_name=f"airflow-mlops/{name}", **common)
        train = TrainChallengerOperator(
            task_id="train",
            estimator={"steps": [{"class": "sklearn.impute.SimpleImputer",
                                  "params": {"strategy": "median"}},
                                 {"class": "sklearn.preprocessing.StandardScaler"},
                                 {"class": "sklearn.linear_model.LogisticRegression",
                                  "params": {"C": 1.0, "max_iter": 500}}]},
            experiment_name=f"airflow-mlops/{name}", **common, **DATA,
        )
        evaluate = EvaluateChallengerOperator(
            task_id="evaluate",
            challenger_version="{{ ti.xcom_pull(task_ids='train')['version'] }}",
            policy=POLICY, on_failure="warn", validation=validate.output,
            purpose="Flag the customers likely to cancel next month, for the retention team",
            **common, **DATA,
        )
        approve = HITLBranchOperator(
            task_id="approve",
            subject=f"Promote {name} v{{{{ ti.xcom_pull(task_ids='evaluate')['challenger_version']"
                    " }} to champion?",
            body=APPROVAL_BODY,
            options=["Approve", "Reject"],
            options_mapping={"Approve": "smoke_check", "Reject": "reject"}, defaults=["Reject"],
            response_timeout=dt.timedelta(hours=24), execution_timeout=None,
            on_success_callback=RecordApproval(**common),
        )
        smoke = SmokeCheckOperator(
            task_id="smoke_check",
            version="{{ ti.xcom_pull(task_ids='evaluate')['challenger_version'] }}",
            data_uri=DATA_URI, sample_rows=100,
            trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS, **common,
        )
        promote = PromoteChallengerOperator(task_id="promote", decision=evaluate.output,
                                            max_active_tis_per_dag=1, **common)
        reject = RejectChallengerOperator(task_id="reject", decision=evaluate.output,
                                          trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS,
                                          **common)
        summary = NightSummaryOperator(task_id="summary", validation=validate.output,
                                       decision=evaluate.output, promotion=promote.output,
                                       trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS)
        wait >> validate >> train >> evaluate
        route = RouteDecisionOperator(task_id="route_decision", decision=evaluate.output)
        route >> approve >> [smoke, reject]
        route >> [smoke, reject]
        smoke >> promote
        [promote, reject] >> summary


for index in range(int(os.environ.get("PLAIN_RETRAIN_MODELS", "1"))):
    build("churn" if index == 0 else f"model_{index:04d}")
