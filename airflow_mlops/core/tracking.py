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
CREDENTIALS = tuple(CREDENTIAL_VARIABLES.values())
URI_VARIABLES = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")


@dataclass(frozen=True)
class TrackingTarget:
    """Where runs and models go, and how to authenticate there."""

    tracking_uri: str
    registry_uri: str | None = None
    artifact_location: str | None = None
    username: str | None = None
    password: str | None = None
    token: str | None = None

    def __repr__(self) -> str:
        return (
            f"TrackingTarget(tracking_uri={self.tracking_uri!r}, "
            f"registry_uri={self.registry_uri!r})"
        )


@contextmanager
def tracking_session(target: TrackingTarget) -> Iterator[None]:
    """Use ``target`` for MLflow's fluent API and clients, restoring the previous state after.

    MLflow reads credentials from the environment on each request, and mirrors the URIs it
    is given into ``MLFLOW_TRACKING_URI``/``MLFLOW_REGISTRY_URI``; all of these are set only
    inside this block and put back as they were when it ends.
    """
    import mlflow
    from mlflow.tracking._model_registry import utils as registry_state
    from mlflow.tracking._tracking_service import utils as tracking_state

    # The URIs set in this process, None when unset (MLflow's own _use_tracking_uri saves
    # them the same way); the public getters would return resolved defaults, and setting
    # those back would pin them, env variables included.
    saved_uris = (tracking_state._tracking_uri, registry_state._registry_uri)
    saved_env = {name: os.environ.get(name) for name in (*URI_VARIABLES, *CREDENTIALS)}
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


def ensure_experiment(name: str, artifact_location: str | None = None) -> str:
    """The id of experiment ``name``, created with ``artifact_location`` when new."""
    import mlflow

    experiment = mlflow.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    try:
        return mlflow.create_experiment(name, artifact_location=artifact_location)
    except mlflow.exceptions.MlflowException:
        return mlflow.get_experiment_by_name(name).experiment_id  # created concurrently
