"""ModelAliasTrigger: the async side of the deferrable ModelAliasSensor."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_mlops.core.errors import ConfigError
from airflow_mlops.hooks.mlflow import MlflowHook

# MLflow reads credentials from process-wide variables, which MlflowHook.session sets for
# its block; in the triggerer, one session at a time keeps connections from mixing them.
_SESSION_LOCK = threading.Lock()


def current_version(mlflow_conn_id: str, model_name: str, alias: str) -> str | None:
    """The version ``alias`` of ``model_name`` points at now; None when it is unset."""
    from airflow_mlops.core.registry import alias_version

    hook = MlflowHook(mlflow_conn_id=mlflow_conn_id)
    with _SESSION_LOCK, hook.session():
        return alias_version(hook.get_client(), model_name, alias)


def is_new(version: str | None, known_version: str | None) -> bool:
    """Whether the alias is set and points somewhere other than ``known_version``."""
    return version is not None and version != known_version


class ModelAliasTrigger(BaseTrigger):
    """
    Fire once when a registered model's alias points at a version other than a known one.

    The event is ``{"status": "success", "model": ..., "alias": ..., "version": ...}``, or
    ``{"status": "error", ..., "message": ...}`` when the MLflow connection is unusable.

    :param model_name: registered model name.
    :param alias: the alias to watch, e.g. ``champion``.
    :param known_version: the version already handled; ``None`` fires as soon as the alias
        is set.
    :param mlflow_conn_id: connection of the MLflow registry.
    :param poll_interval: seconds between checks.
    """

    def __init__(
        self,
        *,
        model_name: str,
        alias: str,
        known_version: str | None,
        mlflow_conn_id: str,
        poll_interval: float = 60.0,
    ) -> None:
        super().__init__()
        self.model_name = model_name
        self.alias = alias
        self.known_version = known_version
        self.mlflow_conn_id = mlflow_conn_id
        self.poll_interval = poll_interval

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Serialize ModelAliasTrigger arguments and classpath."""
        return (
            "airflow_mlops.triggers.alias.ModelAliasTrigger",
            {
                "model_name": self.model_name,
                "alias": self.alias,
                "known_version": self.known_version,
                "mlflow_conn_id": self.mlflow_conn_id,
                "poll_interval": self.poll_interval,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Read the alias every ``poll_interval`` seconds until it points at a new version."""
        watched = {"model": self.model_name, "alias": self.alias}
        while True:
            try:
                version = await asyncio.to_thread(
                    current_version, self.mlflow_conn_id, self.model_name, self.alias
                )
            except ConfigError as exc:
                yield TriggerEvent({"status": "error", **watched, "message": str(exc)})
                return
            if is_new(version, self.known_version):
                yield TriggerEvent({"status": "success", **watched, "version": version})
                return
            self.log.info("Waiting for %s@%s to move from %s (now %s)", self.model_name,
                          self.alias, self.known_version, version)
            await asyncio.sleep(self.poll_interval)
