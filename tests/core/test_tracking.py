"""Tests for pointing MLflow at a tracking target for one block."""

from __future__ import annotations

import os

import mlflow
import pytest
from mlflow import MlflowClient

from airflow_mlops.core.tracking import (
    URI_VARIABLES,
    TrackingTarget,
    ensure_experiment,
    tracking_session,
)

USERNAME, PASSWORD, TOKEN = (
    "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN"
)


@pytest.fixture
def clean_credentials(monkeypatch):
    for variable in (USERNAME, PASSWORD, TOKEN):
        monkeypatch.delenv(variable, raising=False)


def uri_state() -> tuple:
    return (mlflow.get_tracking_uri(), mlflow.get_registry_uri(),
            *(os.environ.get(variable) for variable in URI_VARIABLES))


def test_session_points_mlflow_at_the_target_and_back(tmp_path):
    before = uri_state()
    tracking = f"sqlite:///{tmp_path / 'tracking.db'}"
    models = f"sqlite:///{tmp_path / 'registry.db'}"

    with tracking_session(TrackingTarget(tracking, registry_uri=models)):
        assert (mlflow.get_tracking_uri(), mlflow.get_registry_uri()) == (tracking, models)

    assert uri_state() == before


def test_nested_session_restores_the_outer_one(tmp_path):
    outer = f"sqlite:///{tmp_path / 'outer.db'}"

    with tracking_session(TrackingTarget(outer)):
        inside_outer = uri_state()
        with tracking_session(TrackingTarget(f"sqlite:///{tmp_path / 'inner.db'}")):
            pass
        assert uri_state() == inside_outer
        assert mlflow.get_registry_uri() == outer


def test_session_leaves_no_registry_behind_for_later_clients(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    with tracking_session(TrackingTarget(f"sqlite:///{tmp_path / 'session.db'}")):
        pass
    later = f"sqlite:///{tmp_path / 'later.db'}"

    MlflowClient(later).create_registered_model("churn")

    assert [m.name for m in MlflowClient(later, later).search_registered_models()] == ["churn"]


def test_registry_defaults_to_the_tracking_uri(tmp_path):
    tracking = f"sqlite:///{tmp_path / 'tracking.db'}"

    with tracking_session(TrackingTarget(tracking)):
        assert mlflow.get_registry_uri() == tracking


@pytest.mark.usefixtures("clean_credentials")
def test_credentials_exist_only_inside_the_session():
    target = TrackingTarget("http://mlflow:5000", username="ds", password="s3cret")

    with tracking_session(target):
        assert (os.environ[USERNAME], os.environ[PASSWORD]) == ("ds", "s3cret")
        assert TOKEN not in os.environ

    assert USERNAME not in os.environ
    assert PASSWORD not in os.environ


@pytest.mark.usefixtures("clean_credentials")
def test_earlier_credentials_are_restored_even_after_an_error(monkeypatch):
    monkeypatch.setenv(TOKEN, "outer-token")
    before = mlflow.get_tracking_uri()

    with pytest.raises(RuntimeError), tracking_session(TrackingTarget("databricks", token="t")):
        assert os.environ[TOKEN] == "t"
        raise RuntimeError("task failed")

    assert os.environ[TOKEN] == "outer-token"
    assert mlflow.get_tracking_uri() == before


def test_repr_shows_no_credentials():
    target = TrackingTarget("http://mlflow:5000", username="ds", password="s3cret", token="t0k")

    assert "s3cret" not in repr(target)
    assert "t0k" not in repr(target)
    assert "http://mlflow:5000" in repr(target)


def test_ensure_experiment_creates_once_with_the_artifact_location(mlflow_session, tmp_path):
    location = tmp_path / "artifacts"

    first = ensure_experiment("churn", str(location))
    second = ensure_experiment("churn", str(tmp_path / "ignored"))

    assert first == second
    assert mlflow.get_experiment(first).artifact_location.endswith(str(location))


QUIET_SCRIPT = """
import logging, os, sys
logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(levelname)s %(message)s")
import mlflow
from airflow_mlops.core.tracking import TrackingTarget, tracking_session

def register():
    os.makedirs("model", exist_ok=True)
    mlflow.register_model(os.path.abspath("model"), "churn")
    print("progress bar", os.environ.get("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"))

if sys.argv[2] == "session":
    with tracking_session(TrackingTarget(sys.argv[1])):
        register()
    print("after", os.environ.get("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"))
else:
    mlflow.set_tracking_uri(sys.argv[1])
    register()
"""


@pytest.mark.parametrize("mode", ["session", "plain"])
def test_inside_a_session_mlflow_logs_at_info_and_draws_no_progress_bars(tmp_path, mode):
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", QUIET_SCRIPT, f"sqlite:///{tmp_path / 'mlflow.db'}", mode],
        capture_output=True, text=True, check=True, cwd=tmp_path,
    )
    if mode == "session":
        # Airflow logs a task's stderr as errors: MLflow's messages must reach logging instead.
        assert "INFO Created version '1' of model 'churn'" in result.stdout
        assert "churn" not in result.stderr
        assert "progress bar false" in result.stdout and "after None" in result.stdout
    else:  # the control: left alone, MLflow writes them to stderr itself
        assert "Created version '1' of model 'churn'" in result.stderr
