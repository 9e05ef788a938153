"""Tests for MlflowHook: an MLflow target from an Airflow connection."""

from __future__ import annotations

import json
import os

import mlflow
import pytest
from mlflow import MlflowClient

from airflow_mlops.core.errors import ConfigError
from airflow_mlops.hooks.mlflow import MlflowHook

CREDENTIALS = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN")


@pytest.fixture
def connect(monkeypatch):
    """Define connection ``conn_id`` through an AIRFLOW_CONN_* variable; no credentials leak in."""
    for variable in CREDENTIALS:
        monkeypatch.delenv(variable, raising=False)

    def connect(conn_id: str = "mlflow_default", **fields) -> MlflowHook:
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}",
                           json.dumps({"conn_type": "mlflow", **fields}))
        return MlflowHook(mlflow_conn_id=conn_id)

    return connect


def test_target_reads_every_field_of_the_connection(connect):
    hook = connect(
        "mlflow_prod", host="https://mlflow.example.com", login="ds", password="s3cret",
        extra={"registry_uri": "databricks-uc", "artifact_location": "s3://models/churn"},
    )

    target = hook.get_target()

    assert target.tracking_uri == "https://mlflow.example.com"
    assert target.registry_uri == "databricks-uc"
    assert target.artifact_location == "s3://models/churn"
    assert (target.username, target.password, target.token) == ("ds", "s3cret", None)


def test_password_without_login_is_a_token(connect):
    target = connect(host="https://mlflow.example.com", password="t0ken").get_target()

    assert (target.username, target.password, target.token) == (None, None, "t0ken")


def test_token_in_extra_is_used(connect):
    target = connect(host="databricks", extra={"token": "dapi123"}).get_target()

    assert target.token == "dapi123"
    assert target.registry_uri is None


def test_empty_host_is_a_clear_error(connect):
    hook = connect("mlflow_empty", host="", login="ds")

    with pytest.raises(ConfigError, match=r"connection 'mlflow_empty': host \(the tracking URI\)"):
        hook.get_target()


def test_credentials_are_not_in_repr(connect):
    target = connect(host="https://mlflow.example.com", login="ds", password="s3cret",
                     extra={"token": "dapi123"}).get_target()

    assert "s3cret" not in repr(target)
    assert "dapi123" not in repr(target)
    assert "s3cret" not in str(target)


def test_session_uses_the_connection_and_restores_the_environment(connect, tmp_path,
                                                                   monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "someone-else")
    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    hook = connect(host=tracking_uri, login="ds", password="s3cret")
    before = mlflow.get_tracking_uri()

    with hook.session():
        assert mlflow.get_tracking_uri() == tracking_uri
        assert os.environ["MLFLOW_TRACKING_USERNAME"] == "ds"
        assert os.environ["MLFLOW_TRACKING_PASSWORD"] == "s3cret"

    assert mlflow.get_tracking_uri() == before
    assert os.environ["MLFLOW_TRACKING_USERNAME"] == "someone-else"
    assert "MLFLOW_TRACKING_PASSWORD" not in os.environ


def test_session_writes_to_the_connected_store(mlflow_connection, tmp_path):
    hook = MlflowHook()

    with hook.session():
        experiment_id = mlflow.create_experiment("churn", str(tmp_path / "artifacts"))

    assert mlflow.get_tracking_uri() != mlflow_connection
    assert hook.get_client().get_experiment(experiment_id).name == "churn"


def test_client_uses_the_separate_registry(connect, tmp_path):
    tracking = f"sqlite:///{tmp_path / 'tracking.db'}"
    models = f"sqlite:///{tmp_path / 'registry.db'}"

    client = connect(host=tracking, extra={"registry_uri": models}).get_client()
    client.create_registered_model("churn")

    assert client.tracking_uri == tracking
    assert [m.name for m in MlflowClient(models).search_registered_models()] == ["churn"]
    assert MlflowClient(tracking).search_registered_models() == []


def test_the_ui_is_the_ui_base_url_extra_else_an_http_tracking_uri(connect):
    internal = connect(host="http://mlflow.internal:5000",
                       extra={"ui_base_url": "https://mlflow.example.com"}).get_target()
    assert internal.ui_url == "https://mlflow.example.com"
    assert connect(host="https://mlflow.example.com").get_target().ui_url == \
        "https://mlflow.example.com"
    assert connect(host="sqlite:////var/mlflow.db").get_target().ui_url is None


def test_a_ui_base_url_a_browser_cannot_open_is_refused(connect):
    hook = connect(host="http://mlflow.internal:5000",
                   extra={"ui_base_url": "file:///var/mlflow"})
    with pytest.raises(ConfigError, match="mlflow_default.*ui_base_url must be an http"):
        hook.get_target()
