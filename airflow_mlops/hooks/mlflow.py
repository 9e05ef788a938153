"""MlflowHook: the tracking server and model registry named by an Airflow connection."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from airflow.sdk import BaseHook

from airflow_mlops.core.errors import ConfigError
from airflow_mlops.core.tracking import TrackingTarget, tracking_session
from airflow_mlops.core.urls import is_web

if TYPE_CHECKING:
    from mlflow import MlflowClient


class MlflowHook(BaseHook):
    """
    Interact with an MLflow tracking server and registry.

    The connection's host is the tracking URI (``http://...``, ``https://...``,
    ``databricks``, or a database URI such as ``sqlite:////path/mlflow.db``); login and
    password (or a token in the password field) authenticate; the ``registry_uri`` extra
    points at a separate registry, ``artifact_location`` says where new experiments
    keep their artifacts, and ``ui_base_url`` is the address a browser opens the MLflow UI
    at when it is not the tracking URI (links from Airflow's UI lead there).

    :param mlflow_conn_id: connection that has the tracking URI and credentials.
    """

    conn_name_attr = "mlflow_conn_id"
    default_conn_name = "mlflow_default"
    conn_type = "mlflow"
    hook_name = "MLflow"

    def __init__(self, mlflow_conn_id: str = default_conn_name, **kwargs) -> None:
        super().__init__(**kwargs)
        self.mlflow_conn_id = mlflow_conn_id

    def get_target(self) -> TrackingTarget:
        """Tracking and registry URIs and credentials from the connection."""
        conn = self.get_connection(self.mlflow_conn_id)
        if not conn.host:
            raise ConfigError(
                f"connection '{self.mlflow_conn_id}': host (the tracking URI) is empty"
            )
        extra = conn.extra_dejson
        ui_base_url = extra.get("ui_base_url") or None
        if ui_base_url and not is_web(ui_base_url):
            raise ConfigError(
                f"connection '{self.mlflow_conn_id}': extra ui_base_url must be an http(s) "
                f"address, got {ui_base_url!r}"
            )
        password = conn.password or None
        token = extra.get("token") or (password if not conn.login else None)
        return TrackingTarget(
            tracking_uri=conn.host,
            registry_uri=extra.get("registry_uri") or None,
            artifact_location=extra.get("artifact_location") or None,
            ui_base_url=ui_base_url,
            username=conn.login or None,
            password=password if conn.login else None,
            token=token,
        )

    @contextmanager
    def session(self) -> Iterator[None]:
        """A block in which MLflow's fluent API and new clients use this connection."""
        with tracking_session(self.get_target()):
            yield

    def get_client(self) -> MlflowClient:
        """A client bound to this connection's tracking and registry URIs.

        MLflow reads credentials from the environment on every request: against a server
        that needs them, use the client inside :meth:`session`.
        """
        from mlflow import MlflowClient

        target = self.get_target()
        return MlflowClient(target.tracking_uri, target.registry_uri or target.tracking_uri)
