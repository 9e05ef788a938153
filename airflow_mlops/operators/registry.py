"""Operators that move aliases and record decisions in the model registry."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from airflow_mlops.core.errors import MlopsError
from airflow_mlops.hooks.mlflow import MlflowHook
from airflow_mlops.operators.lineage import run_lineage

if TYPE_CHECKING:
    from airflow.sdk import Context


class PromoteChallengerOperator(BaseOperator):
    """
    Make the evaluated challenger the champion, if the champion has not moved since.

    Compare-and-set on the decision record: the champion must still be the version the
    evaluation compared against. The old champion gets alias ``previous_champion``. When
    another promotion moved the champion, nothing moves and the task fails without retrying.

    :param model_name: registered model name.
    :param decision: the evaluation's decision record, with ``challenger_version`` and
        ``champion_version``; usually ``evaluate.output``. (templated)
    :param mlflow_conn_id: connection of the tracking server and registry.
    """

    template_fields: Sequence[str] = ("decision",)

    def __init__(
        self,
        *,
        model_name: str,
        decision: dict,
        mlflow_conn_id: str = MlflowHook.default_conn_name,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.model_name = model_name
        self.decision = decision
        self.mlflow_conn_id = mlflow_conn_id

    def execute(self, context: Context) -> dict:
        from airflow_mlops.core import registry

        client = MlflowHook(mlflow_conn_id=self.mlflow_conn_id).get_client()
        version = self.decision["challenger_version"]
        try:
            result = registry.promote(
                client, self.model_name, version,
                expected_champion=self.decision["champion_version"],
            )
        except MlopsError as exc:
            raise AirflowFailException(str(exc)) from None
        lineage = run_lineage(context)
        registry.set_version_tags(client, self.model_name, version, {
            "status": "champion", "promoted_by": f"{lineage['dag_id']}/{lineage['run_id']}",
        })
        self.log.info("Champion of %s is version %s", self.model_name, result["champion"])
        return result


class RejectChallengerOperator(BaseOperator):
    """
    Record on the challenger's version that it was rejected, and why.

    :param model_name: registered model name.
    :param decision: the evaluation's decision record, with ``challenger_version`` and
        ``reasons``; usually ``evaluate.output``. (templated)
    :param mlflow_conn_id: connection of the tracking server and registry.
    """

    template_fields: Sequence[str] = ("decision",)

    def __init__(
        self,
        *,
        model_name: str,
        decision: dict,
        mlflow_conn_id: str = MlflowHook.default_conn_name,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.model_name = model_name
        self.decision = decision
        self.mlflow_conn_id = mlflow_conn_id

    def execute(self, context: Context) -> dict:
        from airflow_mlops.core import registry

        client = MlflowHook(mlflow_conn_id=self.mlflow_conn_id).get_client()
        version = self.decision["challenger_version"]
        registry.set_version_tags(client, self.model_name, version, {
            "status": "rejected", "rejected_because": "; ".join(self.decision["reasons"]),
        })
        champion = registry.alias_version(client, self.model_name, registry.CHAMPION)
        self.log.info("Rejected %s v%s; champion stays %s", self.model_name, version, champion)
        return {"model": self.model_name, "rejected": version, "champion": champion}
