"""Pointing MLflow at a tracking server and registry for the span of one action."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

CREDENTIAL_VARIABLES = {
    "username": "MLFLOW_TRACKING_USERNAME",
    "password": "MLFLOW_TRACKING_PASSWORD",
    "token": "MLFLOW_TRACKING_TOKEN",
}


@dataclass(frozen=True)
class TrackingTarget:
    """Where runs and models go, and how to authenticate there."""

    tracking_uri: str
    registry_uri: str | None = None
    username: str | None = None
    password: str | None = None
    token: str | None = None

    def __repr__(self) -> str:
        return f"TrackingTarget(tracking_uri={self.tracking_uri!r}, registry_uri={self.registry_uri!r})"


@contextmanager
def tracking_session(target: TrackingTarget) -> Iterator[None]:
    """Use ``target`` for MLflow's fluent API and clients, restoring the previous state after.

    MLflow reads credentials from the environment on each request, so they are set only
    inside this block and removed when it ends.
    """
    import mlflow

    saved_uris = (mlflow.get_tracking_uri(), mlflow.get_registry_uri())
    saved_env = {name: os.environ.get(name) for name in CREDENTIAL_VARIABLES.values()}
    try:
        mlflow.set_tracking_uri(target.tracking_uri)
        mlflow.set_registry_uri(target.registry_uri or target.tracking_uri)
        for field, variable in CREDENTIAL_VARIABLES.items():
            value = getattr(target, field)
            if value:
                os.environ[variable] = value
        yield
    finally:
        mlflow.set_tracking_uri(saved_uris[0])
        mlflow.set_registry_uri(saved_uris[1])
        for variable, value in saved_env.items():
            if value is None:
                os.environ.pop(variable, None)
            else:
                os.environ[variable] = value
