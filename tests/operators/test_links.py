"""Extra links: where each one leads, with and without an MLflow web UI."""

from __future__ import annotations

import urllib.request
from types import SimpleNamespace

import pytest

from airflow_mlops.core.tracking import TrackingTarget, tracking_session
from airflow_mlops.core.urls import report_url
from airflow_mlops.operators import links
from airflow_mlops.operators.links import (
    ComparisonChartLink,
    DecisionRecordLink,
    MlflowRunLink,
    ModelVersionLink,
    OutputLink,
    ReportLink,
    TaskLinks,
)

RUN_ID = "scheduled__2026-04-02T02:00:00+00:00"


class TaskInstance(SimpleNamespace):
    """The parts of a running task instance TaskLinks uses; records what it pushes."""

    def xcom_push(self, key, value):
        self.pushed[key] = value


@pytest.fixture
def context():
    return {"ti": TaskInstance(dag_id="nightly_retrain_churn", run_id=RUN_ID, task_id="evaluate",
                               pushed={})}


def fetch(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status, response.read()


@pytest.fixture(scope="module")
def logged(mlflow_server):
    """A run with a report artifact and a registered version of ``churn`` on the server."""
    from mlflow import MlflowClient

    with tracking_session(TrackingTarget(mlflow_server)):
        client = MlflowClient()
        experiment_id = client.create_experiment("links")
        run = client.create_run(experiment_id, run_name="churn train 2026-04-02")
        client.log_text(run.info.run_id, "<h1>Decision of v1</h1>", "evaluation/vs-none/d.html")
        client.create_registered_model("churn")
        version = client.create_model_version("churn", f"runs:/{run.info.run_id}/model",
                                              run_id=run.info.run_id).version
    return SimpleNamespace(experiment_id=experiment_id, run_id=run.info.run_id,
                           version=str(version))


def test_with_an_mlflow_server_links_open_its_ui_pages_of_existing_objects(
        mlflow_server, logged, context):
    from mlflow import MlflowClient

    task = TaskLinks(context, TrackingTarget(mlflow_server))
    task.run(MlflowRunLink, logged.run_id)  # the experiment is looked up
    task.version(ModelVersionLink, "churn", logged.version)
    task.artifact(DecisionRecordLink, f"runs:/{logged.run_id}/evaluation/vs-none/d.html")
    task.artifact(ComparisonChartLink, None)
    task.push()

    pushed = context["ti"].pushed["mlops_links"]
    run_page = f"{mlflow_server}/#/experiments/{logged.experiment_id}/runs/{logged.run_id}"
    assert pushed == {
        "MLflow run": run_page,
        "Model version": f"{mlflow_server}/#/models/churn/versions/{logged.version}",
        "Decision record": f"{run_page}/artifacts/evaluation/vs-none/d.html",
        "Comparison chart": "",  # nothing to open: no button
    }
    assert context["ti"].pushed["mlops_reports"] == {
        "d.html": f"runs:/{logged.run_id}/evaluation/vs-none/d.html"}
    # The pages the links name exist: the UI answers, and the objects are on the server.
    status, page = fetch(run_page.split("#")[0])
    assert status == 200 and b"<html" in page.lower()
    status, body = fetch(f"{mlflow_server}/get-artifact?path=evaluation/vs-none/d.html"
                         f"&run_uuid={logged.run_id}")
    assert (status, body) == (200, b"<h1>Decision of v1</h1>")
    client = MlflowClient(mlflow_server)
    assert client.get_run(logged.run_id).info.experiment_id == logged.experiment_id
    assert client.get_model_version("churn", logged.version).run_id == logged.run_id


def test_a_ui_base_url_is_where_links_lead_instead_of_the_tracking_uri(context):
    target = TrackingTarget("http://mlflow.internal:5000", ui_base_url="https://mlflow.example.com")
    task = TaskLinks(context, target)
    task.run(MlflowRunLink, "abc", experiment_id="4")
    task.version(ModelVersionLink, "churn", "7")
    assert task.links == {"MLflow run": "https://mlflow.example.com/#/experiments/4/runs/abc",
                          "Model version": "https://mlflow.example.com/#/models/churn/versions/7"}


def test_without_a_web_ui_reports_go_to_the_plugin_endpoint_and_the_rest_is_absent(
        context, monkeypatch, tmp_path):
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.example.com/")
    task = TaskLinks(context, TrackingTarget(f"sqlite:///{tmp_path / 'mlflow.db'}"))
    task.run(MlflowRunLink, "abc")
    task.version(ModelVersionLink, "churn", "7")
    task.artifact(DecisionRecordLink, "runs:/abc/evaluation/vs-1/decision.json")
    task.file(ReportLink, str(tmp_path / "results" / "validation_report.html"))
    task.url(OutputLink, "s3://aws_default@bucket/scores/2026-04-02.parquet")
    served = {name: report_url("https://airflow.example.com", dag_id="nightly_retrain_churn",
                               run_id=RUN_ID, task_id="evaluate", name=name)
              for name in ("decision.json", "validation_report.html")}
    assert task.links == {"MLflow run": "", "Model version": "", "Output": "",
                          "Decision record": served["decision.json"],
                          "Report": served["validation_report.html"]}
    assert task.reports == {
        "decision.json": "runs:/abc/evaluation/vs-1/decision.json",
        "validation_report.html": str(tmp_path / "results" / "validation_report.html")}


def test_an_output_at_a_web_address_is_linked():
    task = TaskLinks({"ti": TaskInstance(pushed={})}, None)
    task.url(OutputLink, "https://storage.example.com/scores/2026-04-02.parquet")
    assert task.links == {"Output": "https://storage.example.com/scores/2026-04-02.parquet"}


def test_airflow_base_url_comes_from_the_api_config(monkeypatch):
    monkeypatch.delenv("AIRFLOW__API__BASE_URL", raising=False)
    monkeypatch.setenv("AIRFLOW__API__PORT", "8793")
    assert links.airflow_base_url() == "http://localhost:8793"
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.example.com")
    assert links.airflow_base_url() == "https://airflow.example.com"
    assert links.dag_run_url("d", "r 1") == "https://airflow.example.com/dags/d/runs/r%201"


@pytest.mark.parametrize(("pushed", "shown"), [
    ({"Report": "https://mlflow.example.com/#/experiments/1/runs/a"},
     "https://mlflow.example.com/#/experiments/1/runs/a"),  # control: a web address passes
    ({"Report": "file:///var/airflow/mlops-results/report.html"}, ""),
    ({"Report": "javascript:alert(1)"}, ""),
    ({}, ""),
    (None, ""),
])
def test_a_link_shows_only_web_addresses_the_task_pushed_under_its_name(monkeypatch, pushed,
                                                                       shown):
    from airflow.sdk.execution_time.xcom import XCom

    asked = {}

    def get_value(*, ti_key, key):
        asked["key"] = key
        return pushed

    monkeypatch.setattr(XCom, "get_value", get_value)
    assert ReportLink().get_link(None, ti_key=object()) == shown
    assert asked["key"] == "mlops_links"


def test_every_link_class_has_its_own_name_and_xcom_key():
    classes = [value for value in vars(links).values()
               if isinstance(value, type) and issubclass(value, links.PushedLink)
               and value is not links.PushedLink]
    assert len({c.name for c in classes}) == len({c().xcom_key for c in classes}) == len(classes)
