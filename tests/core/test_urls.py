"""The web addresses links lead to: MLflow UI pages, Airflow pages, the report endpoint."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from airflow_mlops.core import urls

RUN_ID = "scheduled__2026-04-02T00:00:00+00:00"


@pytest.mark.parametrize(("uri", "web"), [
    ("http://mlflow:5000", True), ("HTTPS://mlflow", True), ("file:///tmp/r.html", False),
    ("sqlite:////tmp/mlflow.db", False), ("/tmp/r.html", False), ("", False), (None, False),
    ("javascript:alert(1)", False),
])
def test_only_http_and_https_are_web_addresses(uri, web):
    assert urls.is_web(uri) is web


def test_mlflow_pages_follow_the_ui_routes():
    base = "https://mlflow.example.com/"
    assert urls.mlflow_run_url(base, "3", "abc") == \
        "https://mlflow.example.com/#/experiments/3/runs/abc"
    assert urls.mlflow_artifact_url(base, "3", "abc", "evaluation/vs-1/decision.json") == \
        "https://mlflow.example.com/#/experiments/3/runs/abc/artifacts/evaluation/vs-1/decision.json"
    assert urls.mlflow_version_url(base, "churn model", "7") == \
        "https://mlflow.example.com/#/models/churn%20model/versions/7"


def test_dag_run_page_quotes_the_run_id():
    url = urls.dag_run_url("http://airflow:8080/", "nightly_retrain_churn", RUN_ID)
    assert url == ("http://airflow:8080/dags/nightly_retrain_churn/runs/"
                   "scheduled__2026-04-02T00%3A00%3A00%2B00%3A00")


def test_report_endpoint_carries_the_task_instance_and_report_name():
    url = urls.report_url("https://airflow.example.com/", dag_id="d", run_id=RUN_ID,
                          task_id="validate", name="validation_report.html")
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "airflow.example.com",
                                                        "/mlops/api/reports")
    assert parse_qs(parts.query) == {"dag_id": ["d"], "run_id": [RUN_ID], "task_id": ["validate"],
                                     "name": ["validation_report.html"]}
