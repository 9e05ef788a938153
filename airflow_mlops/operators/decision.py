"""The retrain template's two small steps around the decision: route it, summarise the night.

Plain operators rather than ``@task`` functions: a decorated task costs several times more to
build, and the model factory builds them for every model on every parse.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.standard.operators.branch import BaseBranchOperator
from airflow.sdk import BaseOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

# The task each verdict of the evaluation leads to; promotion starts with the smoke check.
ROUTES = {"promote": "smoke_check", "needs_approval": "approve", "reject": "reject"}


def route(decision: dict) -> list[str]:
    """The task a verdict leads to; none for a dry run (nothing is asked, moved or tagged)."""
    return [] if decision.get("dry_run") else [ROUTES[decision["verdict"]]]


def summarize(validation: dict, decision: dict, promotion: dict | None) -> dict:
    """One row describing the night: data, verdict, metrics and the champion afterwards."""
    metric = decision["primary_metric"]
    moved = promotion is not None and not promotion.get("dry_run")
    return {
        "rows_validated": validation["rows"],
        "validation": "passed" if validation["success"] else "failed",
        "metric": metric,
        "challenger_version": decision["challenger_version"],
        "challenger_metric": decision["challenger_metrics"].get(metric),
        "champion_metric": (decision["champion_metrics"] or {}).get(metric),
        "decision": decision["verdict"],
        "dry_run": decision.get("dry_run", False),
        "reasons": decision["reasons"],
        "champion_after": promotion["champion"] if moved else decision["champion_version"],
    }


class RouteDecisionOperator(BaseBranchOperator):
    """
    Follow the evaluation's verdict: promote, ask a human first, or reject.

    :param decision: the evaluation's decision record. (templated)
    """

    template_fields: Sequence[str] = ("decision",)

    def __init__(self, *, decision: Any, **kwargs) -> None:
        super().__init__(**kwargs)
        self.decision = decision

    def choose_branch(self, context: Context) -> list[str]:
        return route(self.decision)


class NightSummaryOperator(BaseOperator):
    """
    Push one row describing the night (see :func:`summarize`).

    :param validation: the validation summary. (templated)
    :param decision: the evaluation's decision record. (templated)
    :param promotion: the promotion's result; None when nothing was promoted. (templated)
    """

    template_fields: Sequence[str] = ("validation", "decision", "promotion")

    def __init__(self, *, validation: Any, decision: Any, promotion: Any, **kwargs) -> None:
        super().__init__(**kwargs)
        self.validation = validation
        self.decision = decision
        self.promotion = promotion

    def execute(self, context: Context) -> dict:
        return summarize(self.validation, self.decision, self.promotion)
