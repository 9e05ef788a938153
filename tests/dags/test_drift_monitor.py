"""End to end: a champion from nightly_retrain, then drift_monitor windows requesting a retrain."""

from __future__ import annotations

import datetime as dt
import runpy
from pathlib import Path

import pytest

from airflow_mlops.core.registry import CHAMPION, alias_version

REPO = Path(__file__).resolve().parents[2]
RETRAIN_FILE = REPO / "dags" / "nightly_retrain.py"
DRIFT_FILE = REPO / "dags" / "drift_monitor.py"
DAYS = [dt.datetime(2026, 4, day, tzinfo=dt.timezone.utc) for day in (1, 2, 3)]

pytestmark = pytest.mark.e2e


def test_two_drifted_windows_request_a_retrain(airflow_db, mlflow_connection, tmp_path,
                                               monkeypatch, customers, task_states, land,
                                               shifted, retrain_events):
    from mlflow import MlflowClient

    monkeypatch.setenv("AIRFLOW_MLOPS_DATA_ROOT", str(tmp_path / "data"))
    (retrain,) = runpy.run_path(str(RETRAIN_FILE))["dags"]
    (monitor,) = runpy.run_path(str(DRIFT_FILE))["dags"]
    data, size = tmp_path / "data" / "customers", len(customers) // 3

    land(customers.iloc[:size], data, DAYS[0])
    assert retrain.test(logical_date=DAYS[0]).state == "success"
    assert alias_version(MlflowClient(mlflow_connection, mlflow_connection), "churn",
                         CHAMPION) == "1"

    land(shifted(customers.iloc[size: 2 * size]), data, DAYS[1])
    first = monitor.test(logical_date=DAYS[1])
    assert first.state == "success"
    assert task_states(first) == {"wait_for_data": "success", "check_drift": "success",
                                  "request_retrain": "skipped",
                                  "fail_run_if_a_task_failed": "skipped"}
    assert retrain_events("churn") == []

    land(shifted(customers.iloc[2 * size:]), data, DAYS[2])
    second = monitor.test(logical_date=DAYS[2])
    assert second.state == "success"
    assert task_states(second)["request_retrain"] == "success"
    (extra,) = [dict(event.extra) for event in retrain_events("churn")]
    assert extra["model"] == "churn" and extra["requested_by"] == ["drift"]
    assert extra["window"]["ds"] == "2026-04-03"
    assert extra["reasons"]["drift"] == "2 of the last 2 windows drifted (2 of 3 needed)"
    drift = extra["monitors"]["drift"]
    assert drift["drifted"] is True and drift["champion_version"] == "1"
    assert drift["per_column"]["tenure_months"]["drifted"] is True
    assert drift["report"].endswith("drift/drift_report.html")
