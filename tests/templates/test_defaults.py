"""What every DAG built from a config shares: retries, timeouts, one run at a time, alerts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import yaml

from airflow_mlops.core.config import ModelConfig
from airflow_mlops.templates.alerts import ConfiguredNotifier
from airflow_mlops.templates.drift import build_drift_dag
from airflow_mlops.templates.retrain import build_retrain_dag

REPO = Path(__file__).resolve().parents[2]


def config(**changes) -> ModelConfig:
    raw = yaml.safe_load((REPO / "dags" / "models" / "churn.yaml").read_text())
    return ModelConfig.model_validate({**raw, **changes})


def test_defaults_one_run_at_a_time_with_exponential_backoff():
    dag = build_retrain_dag(config())
    train = dag.get_task("train")
    assert dag.max_active_runs == 1
    assert dag.catchup is False
    assert dag.dagrun_timeout is None
    assert train.retries == 2
    assert train.retry_delay == dt.timedelta(seconds=60)
    assert train.retry_exponential_backoff == 2.0
    assert train.max_retry_delay == dt.timedelta(minutes=60)
    assert train.execution_timeout == dt.timedelta(minutes=240)
    assert dag.get_task("wait_for_data").timeout == 6 * 3600
    assert dag.get_task("promote").max_active_tis_per_dag == 1


def test_retries_and_timeouts_from_the_config_reach_every_task():
    custom = config(
        retries={"count": 5, "delay_seconds": 10, "backoff": 0, "max_delay_minutes": None},
        timeouts={"task_minutes": 30, "run_hours": 12, "data_wait_hours": 1},
    )
    for dag in (build_retrain_dag(custom), build_drift_dag(custom)):
        assert dag.dagrun_timeout == dt.timedelta(hours=12)
        for task in dag.tasks:
            assert task.retries == 5, task.task_id
            assert task.retry_delay == dt.timedelta(seconds=10)
            assert task.retry_exponential_backoff == 0
            if task.task_id != "approve":
                assert task.execution_timeout == dt.timedelta(minutes=30), task.task_id
        assert dag.get_task("wait_for_data").timeout == 3600


def test_the_approval_wait_is_bounded_by_its_own_timeout_only():
    approve = build_retrain_dag(config()).get_task("approve")
    assert approve.execution_timeout is None
    assert approve.response_timeout == dt.timedelta(hours=24)


def test_alerts_become_callbacks_without_importing_the_notifier():
    notifier = {"notifier": "some.provider.notifications.ChatNotifier", "params": {"to": "#ml"}}
    dag = build_retrain_dag(config(alerts={"on_failure": [notifier], "on_promotion": [notifier]}))

    for task in dag.tasks:
        (callback,) = task.on_failure_callback
        assert isinstance(callback, ConfiguredNotifier)
        assert callback.import_path == "some.provider.notifications.ChatNotifier"
    (on_promotion,) = dag.get_task("promote").on_success_callback
    assert on_promotion.params == {"to": "#ml"}
    assert not dag.get_task("reject").on_success_callback


def test_sql_data_source_starts_with_an_extract_task():
    query = {"sql": "SELECT * FROM customers WHERE ds = '{{ ds }}'", "conn_id": "warehouse"}
    dag = build_retrain_dag(config(data_query=query))
    extract = dag.get_task("extract")
    assert "wait_for_data" not in dag.task_ids
    assert extract.conn_id == "warehouse"
    assert extract.sql.endswith(query["sql"])
    assert extract.output_uri == dag.get_task("validate").data_uri
    assert dag.get_task("validate").upstream_task_ids == {"extract"}


def test_a_query_validated_in_the_database_is_landed_after_it_passes():
    query = {"sql": "SELECT * FROM customers WHERE ds = '{{ ds }}'", "conn_id": "warehouse",
             "validate_in_database": True, "max_rows": 5000, "key_column": "customer_id"}
    dag = build_retrain_dag(config(data_query=query))
    validate, extract = dag.get_task("validate"), dag.get_task("extract")
    assert validate.in_database and validate.data_uri is None
    assert validate.sql == extract.sql and validate.sql.endswith(query["sql"])
    assert extract.upstream_task_ids == {"validate"}
    assert dag.get_task("train").upstream_task_ids == {"extract"}
    assert (extract.max_rows, extract.key_column) == (5000, "customer_id")
    plain = build_retrain_dag(config(data_query={"sql": "SELECT 1", "conn_id": "w"}))
    assert plain.get_task("validate").upstream_task_ids == {"extract"}  # negative control
