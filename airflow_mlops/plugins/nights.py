"""The last nights of each model, and the approvals waiting for a human, from Airflow's DB.

Read from the metadata database the api-server already serves: each retrain DAG run, the
states of its decisive tasks, the validation and evaluation summaries its tasks pushed, the
run's note, and the Human-in-the-loop requests not answered yet. A few queries cover every
model on the page at once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

NIGHTS = 7
SUMMARY_TASKS = ("validate", "evaluate")
OUTCOME_TASKS = ("validate", "train", "evaluate", "approve", "smoke_check", "promote", "reject")
# A Human-in-the-loop task waits in `awaiting_input` (Airflow 3.2+; `deferred` before).
WAITING_FOR_A_HUMAN = ("awaiting_input", "deferred")


@dataclass(frozen=True)
class Night:
    """One retrain DAG run as the page shows it."""

    dag_id: str
    run_id: str
    date: dt.datetime | None
    state: str
    note: str | None
    tasks: dict[str, str | None] = field(default_factory=dict)
    validation: dict | None = None
    decision: dict | None = None
    ended: dt.datetime | None = None

    @property
    def validation_verdict(self) -> str:
        """``passed``, ``failed (n checks)``, or the validate task's state."""
        if self.validation:
            if self.validation.get("success"):
                return f"passed ({self.validation.get('rows', '?')} rows)"
            failed = self.validation.get("failed", "?")
            return f"failed ({failed} check{'' if failed == 1 else 's'})"
        return self.tasks.get("validate") or "not run"

    @property
    def outcome(self) -> str:
        """What the night decided, in a few words."""
        tasks, decision = self.tasks, self.decision or {}
        version = decision.get("challenger_version")
        if tasks.get("promote") == "success":
            return f"v{version} promoted"
        if tasks.get("approve") in {*WAITING_FOR_A_HUMAN, "running", "queued", "scheduled"}:
            return f"v{version} awaiting approval"
        if tasks.get("reject") == "success":
            return f"v{version} rejected"
        blocked = next((t for t in OUTCOME_TASKS if tasks.get(t) in {"failed", "upstream_failed"}),
                       None)
        if blocked:
            return f"blocked: {blocked}"
        return self.state


@dataclass(frozen=True)
class Approval:
    """A Human-in-the-loop request nobody answered yet."""

    dag_id: str
    run_id: str
    task_id: str
    subject: str
    created_at: dt.datetime


def last_nights(
    session: Session, dag_ids: list[str], count: int = NIGHTS
) -> dict[str, list[Night]]:
    """The newest ``count`` runs of each DAG in ``dag_ids``, newest first."""
    from airflow.models.dagrun import DagRun
    from sqlalchemy import func, select

    if not dag_ids:
        return {}
    rank = func.row_number().over(partition_by=DagRun.dag_id,
                                  order_by=DagRun.run_after.desc()).label("rank")
    ranked = select(DagRun.id, rank).where(DagRun.dag_id.in_(dag_ids)).subquery()
    runs = session.scalars(
        select(DagRun).join(ranked, ranked.c.id == DagRun.id).where(ranked.c.rank <= count)
        .order_by(DagRun.run_after.desc())
    ).all()
    tasks = _task_states(session, [run.id for run in runs], dag_ids)
    summaries = _summaries(session, [run.id for run in runs])
    nights: dict[str, list[Night]] = {dag_id: [] for dag_id in dag_ids}
    for run in runs:
        pushed = summaries.get(run.id, {})
        nights[run.dag_id].append(Night(
            dag_id=run.dag_id, run_id=run.run_id, date=run.logical_date or run.run_after,
            state=str(run.state), note=run.note, tasks=tasks.get((run.dag_id, run.run_id), {}),
            validation=_dict(pushed.get("validate")), decision=_dict(pushed.get("evaluate")),
            ended=run.end_date,
        ))
    return nights


def _task_states(session: Session, run_ids: list[int], dag_ids: list[str]):
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from sqlalchemy import select

    if not run_ids:
        return {}
    rows = session.execute(
        select(TaskInstance.dag_id, TaskInstance.run_id, TaskInstance.task_id,
               TaskInstance.state)
        .join(DagRun, (DagRun.dag_id == TaskInstance.dag_id)
              & (DagRun.run_id == TaskInstance.run_id))
        .where(DagRun.id.in_(run_ids), TaskInstance.task_id.in_(OUTCOME_TASKS))
    )
    states: dict[tuple[str, str], dict[str, str | None]] = {}
    for dag_id, run_id, task_id, state in rows:
        states.setdefault((dag_id, run_id), {})[task_id] = None if state is None else str(state)
    return states


def _summaries(session: Session, run_ids: list[int]) -> dict[int, dict[str, Any]]:
    from airflow.models.xcom import XComModel
    from sqlalchemy import select

    if not run_ids:
        return {}
    rows = session.execute(
        select(XComModel.dag_run_id, XComModel.task_id, XComModel.value).where(
            XComModel.dag_run_id.in_(run_ids), XComModel.task_id.in_(SUMMARY_TASKS),
            XComModel.key == "return_value", XComModel.map_index == -1,
        )
    )
    found: dict[int, dict[str, Any]] = {}
    for dag_run_id, task_id, value in rows:
        found.setdefault(dag_run_id, {})[task_id] = deserialized(value)
    return found


def deserialized(value: Any) -> Any:
    from types import SimpleNamespace

    from airflow.models.xcom import XComModel

    try:
        return XComModel.deserialize_value(SimpleNamespace(value=value))
    except Exception:  # a value this page cannot read is shown as missing
        return None


def _dict(value: Any) -> dict | None:
    return value if isinstance(value, dict) else None


def pending_approvals(session: Session, dag_ids: list[str]) -> dict[str, list[Approval]]:
    """Unanswered Human-in-the-loop requests of the DAGs in ``dag_ids``, by DAG id."""
    from airflow.models.hitl import HITLDetail
    from airflow.models.taskinstance import TaskInstance
    from sqlalchemy import select

    if not dag_ids:
        return {}
    rows = session.execute(
        select(TaskInstance.dag_id, TaskInstance.run_id, TaskInstance.task_id,
               HITLDetail.subject, HITLDetail.created_at)
        .join(TaskInstance, TaskInstance.id == HITLDetail.ti_id)
        .where(TaskInstance.dag_id.in_(dag_ids), HITLDetail.responded_at.is_(None),
               TaskInstance.state.in_(WAITING_FOR_A_HUMAN))
        .order_by(HITLDetail.created_at.desc())
    )
    approvals: dict[str, list[Approval]] = {}
    for dag_id, run_id, task_id, subject, created_at in rows:
        approvals.setdefault(dag_id, []).append(
            Approval(dag_id, run_id, task_id, subject, created_at))
    return approvals
