"""The web addresses of what a night produced: MLflow UI pages, Airflow pages, report files.

Pure string building; which bases apply (the MLflow UI, Airflow's ``[api] base_url``) is
decided by the caller.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

WEB_SCHEMES = ("http://", "https://")


def is_web(uri: str | None) -> bool:
    """Whether ``uri`` is an http(s) address a browser can open from Airflow's UI."""
    return bool(uri) and uri.lower().startswith(WEB_SCHEMES)


def _base(base: str) -> str:
    return base.rstrip("/")


def mlflow_run_url(ui_base: str, experiment_id: str, run_id: str) -> str:
    """The MLflow UI page of a run."""
    return f"{_base(ui_base)}/#/experiments/{quote(str(experiment_id))}/runs/{quote(run_id)}"


def mlflow_artifact_url(ui_base: str, experiment_id: str, run_id: str, path: str) -> str:
    """The MLflow UI page of a run's artifact (the run page with the file open)."""
    return f"{mlflow_run_url(ui_base, experiment_id, run_id)}/artifacts/{quote(path)}"


def mlflow_version_url(ui_base: str, model: str, version: str) -> str:
    """The MLflow UI page of a registered model version."""
    return f"{_base(ui_base)}/#/models/{quote(model, safe='')}/versions/{quote(str(version))}"


def dag_run_url(airflow_base: str, dag_id: str, run_id: str) -> str:
    """The Airflow UI page of a DAG run."""
    return f"{_base(airflow_base)}/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}"


def report_url(airflow_base: str, *, dag_id: str, run_id: str, task_id: str, name: str) -> str:
    """The product's Airflow plugin endpoint that serves a task's stored report ``name``."""
    query = urlencode({"dag_id": dag_id, "run_id": run_id, "task_id": task_id, "name": name})
    return f"{_base(airflow_base)}/mlops/api/reports?{query}"
