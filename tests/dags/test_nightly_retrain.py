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


AIRFLOW_URL = "https://airflow.example.com"


def xcoms(run, task_id: str) -> dict:
    """The XComs of one task of a finished DAG run, by key."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(XComModel).filter_by(dag_id=run.dag_id, run_id=run.run_id,
                                                  task_id=task_id).all()
        return {row.key: row.value for row in rows}


@pytest.fixture
def nightly(airflow_db, mlflow_connection, tmp_path, monkeypatch):
    """The template's DAG, with its data root in tmp_path and a fresh MLflow store."""
    from mlflow import MlflowClient

    monkeypatch.setenv("AIRFLOW_MLOPS_DATA_ROOT", str(tmp_path / "data"))
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", AIRFLOW_URL)
    (dag,) = runpy.run_path(str(DAG_FILE))["dags"]
    return dag, tmp_path / "data", MlflowClient(mlflow_connection, mlflow_connection)


def test_three_nights_promote_compare_and_block(nightly, customers, task_states, land,
                                                night_notes):
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
    assert_readable_night(first, client, dag.dag_id, night_notes(first), night="2026-03-01",
                          version="1")

    land(customers.iloc[size : 2 * size], data_root / "customers", NIGHTS[1])
    second = dag.test(logical_date=NIGHTS[1])
    assert second.state == "success"
    versions = client.search_model_versions(f"name='{MODEL}'")
    assert sorted(str(v.version) for v in versions) == ["1", "2"]
    v2 = client.get_model_version(MODEL, "2")
    assert v2.tags[tag("compared_to")] == "1"
    assert alias_version(client, MODEL, CHALLENGER) == "2"
    summary = xcoms(second, "summary")["return_value"]
    assert night_notes(second) == summary["note"]
    outcome = "promoted" if summary["decision"] == "promote" else "rejected"
    assert summary["note"].startswith(f"v2 {outcome}: roc_auc ")
    assert " (v1)" in summary["note"]
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
    assert states["summary"] == "upstream_failed"
    failed = xcoms(third, "validate")["return_value"]["failed"]
    assert failed >= 1
    checks = f"{failed} check{'s' if failed > 1 else ''}"
    assert night_notes(third) == f"blocked: validation, {checks} failed"
    assert len(client.search_model_versions(f"name='{MODEL}'")) == 2
    assert alias_version(client, MODEL, CHAMPION) == champion_before



def assert_readable_night(run, client, dag_id: str, note: str | None, *, night: str,
                          version: str) -> None:
    """A first night, readable from Airflow: its note, runs named by model, step and night,
    descriptions linking back, and report links that lead to the plugin's endpoint (this
    MLflow store speaks no HTTP) for files that exist."""
    import mlflow

    from airflow_mlops.core.urls import dag_run_url, report_url

    summary = xcoms(run, "summary")["return_value"]
    assert summary["note"].startswith(f"v{version} promoted: roc_auc ")
    assert summary["note"].endswith(", first version")
    assert note == summary["note"]

    names = {r.info.run_name for r in client.search_runs(
        [client.get_experiment_by_name("airflow-mlops/churn").experiment_id])}
    assert {f"churn train {night}", f"churn validate {night}"} <= names
    run_page = dag_run_url(AIRFLOW_URL, dag_id, run.run_id)
    assert run_page in client.get_model_version(MODEL, version).description
    assert f"({AIRFLOW_URL}/dags/{dag_id})" in client.get_registered_model(MODEL).description

    for task_id, link, name in (("validate", "ReportLink", "validation_report.html"),
                                ("evaluate", "DecisionRecordLink", "decision.json"),
                                ("evaluate", "ComparisonChartLink", "comparison.png")):
        pushed = xcoms(run, task_id)
        assert pushed[f"_link_{link}"] == report_url(AIRFLOW_URL, dag_id=dag_id,
                                                     run_id=run.run_id, task_id=task_id,
                                                     name=name)
        local = mlflow.artifacts.download_artifacts(artifact_uri=pushed["mlops_reports"][name],
                                                    tracking_uri=client.tracking_uri)
        assert Path(local).stat().st_size > 0
    for task_id, link in (("train", "MlflowRunLink"), ("train", "ModelVersionLink"),
                          ("evaluate", "ChampionVersionLink"), ("promote", "LedgerEntryLink")):
        assert xcoms(run, task_id)[f"_link_{link}"] == ""  # no MLflow UI: no button
