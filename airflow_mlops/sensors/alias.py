"""ModelAliasSensor: waits until a registered model's alias points at a new version."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue, conf
from airflow.sdk.exceptions import AirflowFailException

from airflow_mlops.core.errors import ConfigError
from airflow_mlops.hooks.mlflow import MlflowHook
from airflow_mlops.triggers.alias import ModelAliasTrigger, current_version, is_new

if TYPE_CHECKING:
    from airflow.sdk import Context

# What Jinja renders for an XCom that does not exist yet.
UNKNOWN = ("", "None")


class ModelAliasSensor(BaseSensorOperator):
    """
    Wait until an alias (``champion`` by default) points at a version other than a known one.

    Meant for deployment DAGs downstream of retraining. The task returns the version it
    found, so the next run can pass it back as the known one::

        ModelAliasSensor(
            task_id="wait_for_champion",
            model_name="churn",
            known_version="{{ ti.xcom_pull(task_ids='wait_for_champion', "
            "include_prior_dates=True) }}",
        )

    :param model_name: registered model name.
    :param alias: the alias to watch.
    :param known_version: the version already handled; the sensor returns once the alias
        points elsewhere (a promotion or a rollback). Empty, ``None`` or ``"None"`` (an
        XCom not pushed yet) returns as soon as the alias is set. (templated)
    :param mlflow_conn_id: connection of the MLflow registry.
    :param deferrable: wait in the triggerer instead of holding a worker slot.
    :param poll_interval: seconds between the trigger's checks; defaults to ``poke_interval``.
    """

    template_fields: Sequence[str] = ("known_version",)

    def __init__(
        self,
        *,
        model_name: str,
        alias: str = "champion",
        known_version: str | None = None,
        mlflow_conn_id: str = MlflowHook.default_conn_name,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.model_name = model_name
        self.alias = alias
        self.known_version = known_version
        self.mlflow_conn_id = mlflow_conn_id
        self.deferrable = deferrable
        self.poll_interval = poll_interval

    @property
    def known(self) -> str | None:
        """``known_version`` as a version string, or None."""
        known = self.known_version
        return None if known is None or str(known) in UNKNOWN else str(known)

    def poke(self, context: Context) -> bool | PokeReturnValue:
        try:
            version = current_version(self.mlflow_conn_id, self.model_name, self.alias)
        except ConfigError as exc:
            raise AirflowFailException(str(exc)) from None
        if not is_new(version, self.known):
            self.log.info("Waiting for %s@%s to move from %s (now %s)", self.model_name,
                          self.alias, self.known, version)
            return False
        self.log.info("%s@%s points at version %s", self.model_name, self.alias, version)
        return PokeReturnValue(is_done=True, xcom_value=version)

    def execute(self, context: Context) -> str | None:
        if not self.deferrable:
            return super().execute(context=context)
        found = self.poke(context=context)
        if found:
            return found.xcom_value
        self.defer(
            timeout=datetime.timedelta(seconds=self.timeout),
            trigger=ModelAliasTrigger(
                model_name=self.model_name,
                alias=self.alias,
                known_version=self.known,
                mlflow_conn_id=self.mlflow_conn_id,
                poll_interval=self.poke_interval if self.poll_interval is None
                else self.poll_interval,
            ),
            method_name="execute_complete",
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> str:
        if not event or event.get("status") != "success":
            message = (event or {}).get("message", "the trigger sent no event")
            raise AirflowFailException(
                f"{self.task_id}: waiting for {self.model_name}@{self.alias} failed: {message}"
            )
        self.log.info("%s@%s points at version %s", self.model_name, self.alias, event["version"])
        return event["version"]
