"""End to end: the nightly_retrain template as real DAG runs on SQLite Airflow and MLflow."""

from __future__ import annotations

import datetime as dt
import runpy
from pathlib import Path

import pytest

from airflow_mlops.core.io import file_digest
from airflow_mlops.core.registry import CHALLENGER, CHAMPION, PREVIOUS_CHAMPION, alias_version, tag

REPO = Path(__file__).resolve().parents[2]
DAG_FILE = REPO / "dags" / "nightly_retrain.py"
MODEL = "churn"
NIGHTS = [dt.datetime(2026, 3, day, tzinfo=dt.timezone.utc) for day in (1, 2, 3)]

pytestmark = pytest.mark.e2e


@pytest.fixture
def nightly(airflow_db, mlflow_connection, tmp_path, monkeypatch):
    """The template's DAG, with its data root in tmp_path and a fresh MLflow store."""
    from mlflow import MlflowClient

    monkeypatch.setenv("AIRFLOW_MLOPS_DATA_ROOT", str(tmp_path / "data"))
    (dag,) = runpy.run_path(str(DAG_FILE))["dags"]
    return dag, tmp_path / "data", MlflowClient(mlflow_connection, mlflow_connection)


def test_three_nights_promote_compare_and_block(nightly, customers, task_states, land):
    dag, data_root, client = nightly
    size = len(customers) // 3

    land(customers.iloc[:size], data_root / "customers", NIGHTS[0])
    first = dag.test(logical_date=NIGHTS[0])
    assert first.state == "success"
    assert alias_version(client, MODEL, CHAMPION) == "1"
    assert alias_version(client, MODEL, CHALLENGER) == "1"
    v1 = client.get_model_version(MODEL, "1")
    assert v1.tags[tag("dag_id")] == dag.dag_id
    assert v1.tags[tag("run_id")] == first.run_id
    assert len(v1.tags[tag("data_fingerprint")]) == 16
    assert v1.tags[tag("data_digest")] == file_digest(v1.tags[tag("data_uri")])
    assert v1.tags[tag("decision")] == "promote"
    assert v1.tags[tag("compared_to")] == "none"
    assert task_states(first)["reject"] == "skipped"

    land(customers.iloc[size : 2 * size], data_root / "customers", NIGHTS[1])
    second = dag.test(logical_date=NIGHTS[1])
    assert second.state == "success"
    versions = client.search_model_versions(f"name='{MODEL}'")
    assert sorted(str(v.version) for v in versions) == ["1", "2"]
    v2 = client.get_model_version(MODEL, "2")
    assert v2.tags[tag("compared_to")] == "1"
    assert alias_version(client, MODEL, CHALLENGER) == "2"
    if v2.tags[tag("decision")] == "promote":
        assert alias_version(client, MODEL, CHAMPION) == "2"
        assert alias_version(client, MODEL, PREVIOUS_CHAMPION) == "1"
        assert task_states(second)["reject"] == "skipped"
    else:
        assert alias_version(client, MODEL, CHAMPION) == "1"
        assert v2.tags[tag("status")] == "rejected"
        assert task_states(second)["promote"] == "skipped"

    champion_before = alias_version(client, MODEL, CHAMPION)
    corrupted = customers.iloc[2 * size :].copy()
    corrupted.loc[corrupted.index[:25], "tenure_months"] = -1
    land(corrupted, data_root / "customers", NIGHTS[2])
    third = dag.test(logical_date=NIGHTS[2])
    assert third.state == "failed"
    states = task_states(third)
    assert states["validate"] == "failed"
    assert states["train"] == "upstream_failed"
    assert len(client.search_model_versions(f"name='{MODEL}'")) == 2
    assert alias_version(client, MODEL, CHAMPION) == champion_before

