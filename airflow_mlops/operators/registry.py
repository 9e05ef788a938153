"""Operators that move aliases and record decisions in the model registry."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from airflow_mlops.core.errors import ChampionChangedError, MlopsError
from airflow_mlops.hooks.mlflow import MlflowHook
from airflow_mlops.operators.lineage import run_lineage
from airflow_mlops.operators.links import (
    LedgerEntryLink,
    ModelCardLink,
    ModelVersionLink,
    TaskLinks,
)

if TYPE_CHECKING:
    from airflow.sdk import Context


class PromoteChallengerOperator(BaseOperator):
    """
    Make the evaluated challenger the champion, if the champion has not moved since.

    Compare-and-set on the decision: the champion must still be the version the evaluation
    compared against. The old champion gets alias ``previous_champion``; the move is written
    to the alias ledger. When another promotion moved the champion, nothing moves and the
    task fails without retrying. A rejected decision, or a version without a passed smoke
    check of the files training recorded, is never promoted; a dry run moves nothing.
    Re-running the task for the same DAG run moves nothing a second time. Give it a one-slot
    ``pool`` per model to serialise promotions. Links: the promoted "Model version", the
    move's "Ledger entry" and the promoted version's "Model card".

    :param model_name: registered model name.
    :param decision: the evaluation's summary, with ``verdict``, ``reasons``,
        ``challenger_version`` and ``champion_version``; usually ``evaluate.output``.
        (templated)
    :param mlflow_conn_id: connection of the tracking server and registry.
    """

    template_fields: Sequence[str] = ("decision",)
    operator_extra_links = (ModelVersionLink(), LedgerEntryLink(), ModelCardLink())

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
        from mlflow import MlflowClient

        from airflow_mlops.core import registry
        from airflow_mlops.core.model_card import refresh_cards
        from airflow_mlops.core.policy import NEEDS_APPROVAL, REJECT
        from airflow_mlops.core.smoke import require_smoke_passed

        decision, model = self.decision, self.model_name
        version, expected = decision["challenger_version"], decision["champion_version"]
        if decision["verdict"] == REJECT:
            raise AirflowFailException(
                f"model '{model}' v{version}: the decision is reject; it cannot be promoted"
            )
        if decision.get("dry_run"):
            self.log.info("Dry run: would move champion of %s from %s to %s", model, expected,
                          version)
            return {"model": model, "champion": expected, "previous_champion": None,
                    "moved": False, "dry_run": True}
        approved = "approved by a human; " if decision["verdict"] == NEEDS_APPROVAL else ""
        lineage = run_lineage(context)
        hook = MlflowHook(mlflow_conn_id=self.mlflow_conn_id)
        links = TaskLinks(context, hook.get_target())
        links.version(ModelVersionLink, model, version)
        try:
            with hook.session():
                client = MlflowClient()
                require_smoke_passed(client, model, version)
                try:
                    result = registry.promote(
                        client, model, version, expected_champion=expected,
                        reason=approved + "; ".join(decision["reasons"]), lineage=lineage,
                    )
                except ChampionChangedError as exc:  # the lost compare-and-set, on record
                    registry.set_version_tags(client, model, version, {
                        "status": "conflict", "conflict": str(exc),
                        "conflict_by": f"{lineage['dag_id']}/{lineage['run_id']}",
                    })
                    raise
                registry.set_version_tags(client, model, version, {
                    "promoted_by": f"{lineage['dag_id']}/{lineage['run_id']}",
                })
                links.run(LedgerEntryLink, _ledger_entry(client, model, lineage))
                cards = refresh_cards(client, model, version, result.get("previous_champion"))
                links.card(cards[str(version)])
        except MlopsError as exc:
            links.push()
            raise AirflowFailException(str(exc)) from None
        links.push()
        self.log.info("Champion of %s is version %s (moved now: %s)", model, result["champion"],
                      result["moved"])
        self._outcome = result
        return result

    def get_openlineage_facets_on_complete(self, task_instance):
        """OpenLineage: the versions in, the decision and the champion after as a facet."""
        from airflow_mlops.operators.openlineage import decision_lineage

        return decision_lineage(self, "promote")


def _ledger_entry(client, model: str, lineage: dict[str, str]) -> str | None:
    """The ledger entry (an MLflow run id) of this DAG run's promotion, if it moved anything."""
    from airflow_mlops.core import ledger, registry

    key = ledger.entry_key(model, registry.CHAMPION, registry.PROMOTE, lineage)
    entry = ledger.find(client, model, key)
    return entry.entry_id if entry else None


class RejectChallengerOperator(BaseOperator):
    """
    Record on the challenger's version that it was rejected, and why.

    Reached with a decision other than ``reject``, the rejection was a human's (at the
    approval step), and the tag says so. Links: the rejected "Model version" and its
    "Model card".

    :param model_name: registered model name.
    :param decision: the evaluation's summary, with ``verdict``, ``challenger_version`` and
        ``reasons``; usually ``evaluate.output``. (templated)
    :param mlflow_conn_id: connection of the tracking server and registry.
    """

    template_fields: Sequence[str] = ("decision",)
    operator_extra_links = (ModelVersionLink(), ModelCardLink())

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
        from mlflow import MlflowClient

        from airflow_mlops.core import registry
        from airflow_mlops.core.model_card import refresh_cards
        from airflow_mlops.core.policy import REJECT

        version = self.decision["challenger_version"]
        because = "; ".join(self.decision["reasons"])
        if self.decision["verdict"] != REJECT:
            because = f"rejected at approval; the policy said {self.decision['verdict']}: {because}"
        hook = MlflowHook(mlflow_conn_id=self.mlflow_conn_id)
        links = TaskLinks(context, hook.get_target())
        links.version(ModelVersionLink, self.model_name, version)
        with hook.session():
            client = MlflowClient()
            registry.set_version_tags(client, self.model_name, version, {
                "status": "rejected", "rejected_because": because,
            })
            champion = registry.alias_version(client, self.model_name, registry.CHAMPION)
            links.card(refresh_cards(client, self.model_name, version)[str(version)])
        links.push()
        self.log.info("Rejected %s v%s; champion stays %s", self.model_name, version, champion)
        self._outcome = {"model": self.model_name, "rejected": version, "champion": champion}
        return self._outcome

    def get_openlineage_facets_on_complete(self, task_instance):
        """OpenLineage: the versions in, the decision as a facet."""
        from airflow_mlops.operators.openlineage import decision_lineage

        return decision_lineage(self, "reject")


class RollbackChampionOperator(BaseOperator):
    """
    Point ``champion`` back at ``previous_champion``; the rolled-back version becomes
    ``previous_champion`` and is tagged ``rolled_back``.

    The move is written to the alias ledger; re-running the task for the same DAG run does
    not roll back twice. Links: the restored champion's "Model version" and "Model card".

    :param model_name: registered model name.
    :param reason: why, for the ledger. (templated)
    :param expected_champion: roll back only if the champion is still this version, e.g.
        the version a failed smoke check tested; any champion when None. (templated)
    :param mlflow_conn_id: connection of the tracking server and registry.
    """

    template_fields: Sequence[str] = ("reason", "expected_champion")
    operator_extra_links = (ModelVersionLink(), ModelCardLink())

    def __init__(
        self,
        *,
        model_name: str,
        reason: str,
        expected_champion: str | None = None,
        mlflow_conn_id: str = MlflowHook.default_conn_name,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.model_name = model_name
        self.reason = reason
        self.expected_champion = expected_champion
        self.mlflow_conn_id = mlflow_conn_id

    def execute(self, context: Context) -> dict:
        from mlflow import MlflowClient

        from airflow_mlops.core import registry
        from airflow_mlops.core.model_card import refresh_cards

        hook = MlflowHook(mlflow_conn_id=self.mlflow_conn_id)
        links = TaskLinks(context, hook.get_target())
        try:
            with hook.session():
                client = MlflowClient()
                result = registry.rollback(
                    client, self.model_name, reason=self.reason,
                    lineage=run_lineage(context), expected_champion=self.expected_champion,
                )
                cards = refresh_cards(client, self.model_name, result["champion"],
                                      result["previous_champion"])
        except MlopsError as exc:
            raise AirflowFailException(str(exc)) from None
        links.version(ModelVersionLink, self.model_name, result["champion"])
        links.card(cards.get(str(result["champion"])))
        links.push()
        self.log.info("Champion of %s is version %s again (previous: %s; moved now: %s)",
                      self.model_name, result["champion"], result["previous_champion"],
                      result["moved"])
        return result
