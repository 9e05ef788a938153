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


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def decision_note(decision: dict, promotion: dict | None) -> str:
    """The night's outcome in one line: ``v7 promoted: roc_auc 0.812 vs 0.791``."""
    metric, version = decision["primary_metric"], decision["challenger_version"]
    champion = decision["champion_version"]
    compared = f"{metric} {_number(decision['challenger_metrics'].get(metric))}"
    if champion:
        champion_value = (decision["champion_metrics"] or {}).get(metric)
        compared += f" vs {_number(champion_value)} (v{champion})"
    else:
        compared += ", first version"
    verdict = decision["verdict"]
    if decision.get("dry_run"):
        return f"dry run, v{version} {verdict}: {compared}"
    if promotion is not None:
        approved = " after approval" if verdict == "needs_approval" else ""
        return f"v{version} promoted{approved}: {compared}"
    if verdict == "reject":
        failed = ", ".join(decision.get("failed_checks") or ())
        return f"v{version} rejected: {compared}" + (f"; failed {failed}" if failed else "")
    if verdict == "needs_approval":
        return f"v{version} rejected at approval: {compared}"
    return f"v{version} not promoted: {compared}"


def blocked_note(validation: dict | None) -> str | None:
    """``blocked: validation, 3 checks failed`` for a failed validation, else None."""
    if not validation or validation.get("success", True):
        return None
    if validation.get("error"):
        return f"blocked: validation, {validation['error'][:200]}"
    failed = validation.get("failed", 0)
    return f"blocked: validation, {failed} check{'s' if failed != 1 else ''} failed"


def summarize(validation: dict, decision: dict, promotion: dict | None) -> dict:
    """One row describing the night: data, verdict, metrics, the champion afterwards and
    ``note``, the outcome in one line."""
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
        "note": decision_note(decision, promotion if moved else None),
    }


def summary_lines(summary: dict) -> str:
    """The summary as a short block for the task log."""
    lines = [summary["note"],
             f"validation: {summary['validation']} ({summary['rows_validated']} rows)",
             f"champion after the night: "
             f"{'v' + str(summary['champion_after']) if summary['champion_after'] else 'none'}",
             *(f"- {reason}" for reason in summary["reasons"])]
    return "\n".join(lines)


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
    Push one row describing the night (see :func:`summarize`) and log it as a short block.
    Its ``note`` becomes the DAG run's note (see :mod:`airflow_mlops.listeners.night_note`).

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
        summary = summarize(self.validation, self.decision, self.promotion)
        self.log.info("Night of %s:\n%s", context["ti"].run_id, summary_lines(summary))
        return summary
