"""Every extra link of a night's tasks opens an existing object on a real MLflow server."""

from __future__ import annotations

import datetime as dt
import re
import runpy
import urllib.request
from pathlib import Path
from urllib.parse import quote, unquote

import pytest

REPO = Path(__file__).resolve().parents[2]
MODEL = "churn"
NIGHTS = [dt.datetime(2026, 4, day, tzinfo=dt.timezone.utc) for day in (1, 2)]
RUN_PAGE = re.compile(r"#/experiments/(?P<experiment>[^/]+)/runs/(?P<run>[^/]+)"
                      r"(?:/artifacts/(?P<path>.+))?$")
VERSION_PAGE = re.compile(r"#/models/(?P<model>[^/]+)/versions/(?P<version>\d+)$")

pytestmark = pytest.mark.e2e


def links_of(run) -> dict[tuple[str, str], str]:
    """(task_id, link name) to URL, for every link a task of the run pushed."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(XComModel).filter_by(dag_id=run.dag_id, run_id=run.run_id,
                                                  key="mlops_links").all()
        return {(row.task_id, name): url for row in rows for name, url in row.value.items()}


def fetch(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=60) as response:
        return response.status, response.read()


def assert_opens(url: str, server: str, client) -> None:
    """The URL is an MLflow UI page of the server, and what it shows exists there."""
    assert url.startswith(f"{server}/#/"), url
    if match := VERSION_PAGE.search(url):
        version = client.get_model_version(unquote(match["model"]), match["version"])
        assert str(version.version) == match["version"]
        return
    match = RUN_PAGE.search(url)
    assert match, url
    assert client.get_run(match["run"]).info.experiment_id == match["experiment"]
    if match["path"]:
        status, body = fetch(f"{server}/get-artifact?path={quote(unquote(match['path']))}"
                             f"&run_uuid={match['run']}")
        assert status == 200 and body


def test_every_link_of_two_nights_opens_on_the_mlflow_server(
        airflow_db, http_mlflow_connection, tmp_path, monkeypatch, customers, land,
        night_notes):
    from mlflow import MlflowClient

    server = http_mlflow_connection
    monkeypatch.setenv("AIRFLOW_MLOPS_DATA_ROOT", str(tmp_path / "data"))
    (dag,) = runpy.run_path(str(REPO / "dags" / "nightly_retrain.py"))["dags"]
    client = MlflowClient(server, server)
    status, page = fetch(f"{server}/")
    assert status == 200 and b"<html" in page.lower()  # the UI the links open

    size = len(customers) // 2
    runs = []
    for index, night in enumerate(NIGHTS):
        land(customers.iloc[index * size:(index + 1) * size], tmp_path / "data" / "customers",
             night)
        runs.append(dag.test(logical_date=night))
        assert runs[-1].state == "success"

    first, second = (links_of(run) for run in runs)
    expected_first = {
        ("validate", "Report"), ("validate", "MLflow run"), ("train", "MLflow run"),
        ("train", "Model version"), ("evaluate", "Decision record"),
        ("evaluate", "Comparison chart"), ("evaluate", "Challenger version"),
        ("smoke_check", "Model version"), ("promote", "Model version"),
        ("promote", "Ledger entry"), ("evaluate", "Model card"), ("promote", "Model card"),
    }
    assert {key for key, url in first.items() if url} == expected_first
    assert first[("evaluate", "Champion version")] == ""  # the first model has no champion
    assert second[("evaluate", "Champion version")] == f"{server}/#/models/churn/versions/1"
    for links in (first, second):
        for url in filter(None, links.values()):
            assert_opens(url, server, client)
    assert "/artifacts/validation/validate/validation_report.html" in first[("validate", "Report")]
    assert first[("train", "Model version")] == f"{server}/#/models/churn/versions/1"
    # Evaluation wrote v1's card, promotion rewrote it: both open the same page of v1's run.
    card = first[("evaluate", "Model card")]
    assert card == first[("promote", "Model card")]
    assert card.endswith("/artifacts/model_card/model_card.html")
    assert RUN_PAGE.search(card)["run"] == client.get_model_version("churn", "1").run_id
    assert night_notes(runs[0]).startswith("v1 promoted: roc_auc ")
