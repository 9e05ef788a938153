"""Pointing MLflow at a tracking server and registry for the span of one action."""

from __future__ import annotations

import hashlib
import logging
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
# Set inside a session: MLflow's tqdm bars go to stderr, which Airflow logs as errors.
QUIET_VARIABLES = {"MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}


@dataclass(frozen=True)
class TrackingTarget:
    """Where runs and models go, and how to authenticate there."""

    tracking_uri: str
    registry_uri: str | None = None
    artifact_location: str | None = None
    ui_base_url: str | None = None
    username: str | None = None
    password: str | None = None
    token: str | None = None

    @property
    def ui_url(self) -> str | None:
        """Where a browser opens this server's UI: ``ui_base_url``, else an http(s) tracking
        URI; None for a store that does not speak HTTP (a database or folder)."""
        from airflow_mlops.core.urls import is_web

        if self.ui_base_url:
            return self.ui_base_url
        return self.tracking_uri if is_web(self.tracking_uri) else None

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
    inside this block and put back as they were when it ends. Inside it MLflow draws no
    progress bars, and its log records go to the logging configuration of the process (at
    their own level) instead of straight to stderr.
    """
    import mlflow
    from mlflow.tracking._model_registry import utils as registry_state
    from mlflow.tracking._tracking_service import utils as tracking_state

    # The URIs set in this process, None when unset (MLflow's own _use_tracking_uri saves
    # them the same way); the public getters would return resolved defaults, and setting
    # those back would pin them, env variables included.
    saved_uris = (tracking_state._tracking_uri, registry_state._registry_uri)
    saved_env = {name: os.environ.get(name)
                 for name in (*URI_VARIABLES, *CREDENTIALS, *QUIET_VARIABLES)}
    route_mlflow_logs()
    try:
        os.environ.update(QUIET_VARIABLES)
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


def route_mlflow_logs() -> None:
    """Send MLflow's messages to logging at INFO instead of straight to stderr.

    MLflow gives its ``mlflow`` logger a handler of its own on stderr, and prints messages
    such as "Created version '1' of model" to stderr too; a task's stderr is logged by
    Airflow as errors. Its loggers now propagate, and its printed messages become INFO
    records of the ``mlflow`` logger.
    """
    from mlflow.utils import logging_utils

    logger = logging.getLogger("mlflow")
    logger.handlers = []
    logger.propagate = True
    stream = logging_utils.MLFLOW_LOGGING_STREAM

    def write(text: str) -> None:
        if stream.enabled and text.strip():
            logger.info(text.strip())

    stream.write = write
    stream.flush = lambda: None


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


def task_run(experiment_id: str, *, lineage: dict[str, str], run_name: str) -> str:
    """The id of the run of this task instance (``lineage``: dag_id, run_id, task_id) in the
    experiment, created as ``run_name`` when there is none yet: a re-run logs to it again."""
    import mlflow

    from airflow_mlops.core.registry import tag

    parts = (lineage.get("dag_id", ""), lineage.get("run_id", ""), lineage.get("task_id", ""))
    key = hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]
    client = mlflow.MlflowClient()
    found = client.search_runs([experiment_id], f"tags.`{tag('task_run_key')}` = '{key}'",
                               max_results=1)
    if found:
        return found[0].info.run_id
    tags = {tag(k): v for k, v in lineage.items()} | {tag("task_run_key"): key}
    return client.create_run(experiment_id, run_name=run_name, tags=tags).info.run_id
