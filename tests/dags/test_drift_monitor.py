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
ASSET_NAME = "airflow-mlops/churn/retrain-requested"
DAYS = [dt.datetime(2026, 4, day, tzinfo=dt.timezone.utc) for day in (1, 2, 3)]

pytestmark = pytest.mark.e2e


def land(frame, root: Path, logical_date: dt.datetime) -> None:
    path = root / "customers" / f"ds={logical_date:%Y-%m-%d}" / "customers.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)


def shifted(frame):
    """Older, pricier customers who call support more, on longer contracts."""
    frame = frame.copy()
    frame["tenure_months"] += 30
    frame["monthly_charges"] *= 1.6
    frame["support_calls"] += 3
    frame["contract"] = "two-year"
    return frame


def retrain_events() -> list[dict]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = (session.query(AssetEvent).join(AssetModel, AssetEvent.asset_id == AssetModel.id)
                .filter(AssetModel.name == ASSET_NAME).all())
        return [dict(row.extra) for row in rows]


def test_two_drifted_windows_request_a_retrain(airflow_db, mlflow_connection, tmp_path,
                                               monkeypatch, customers, task_states):
    from mlflow import MlflowClient

    monkeypatch.setenv("AIRFLOW_MLOPS_DATA_ROOT", str(tmp_path / "data"))
    (retrain,) = runpy.run_path(str(RETRAIN_FILE))["dags"]
    (monitor,) = runpy.run_path(str(DRIFT_FILE))["dags"]
    data, size = tmp_path / "data", len(customers) // 3

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
    assert retrain_events() == []

    land(shifted(customers.iloc[2 * size:]), data, DAYS[2])
    second = monitor.test(logical_date=DAYS[2])
    assert second.state == "success"
    assert task_states(second)["request_retrain"] == "success"
    (extra,) = retrain_events()
    assert extra["model"] == "churn" and extra["requested_by"] == ["drift"]
    assert extra["window"]["ds"] == "2026-04-03"
    assert extra["reasons"]["drift"] == "2 of the last 2 windows drifted (2 of 3 needed)"
    drift = extra["monitors"]["drift"]
    assert drift["drifted"] is True and drift["champion_version"] == "1"
    assert drift["per_column"]["tenure_months"]["drifted"] is True
    assert drift["report"].endswith("drift/drift_report.html")
