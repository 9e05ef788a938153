"""The DAG run's note: what a retrain night decided, on the run itself in Airflow's UI.

A task cannot write its DAG run's note (the Task SDK has no call for it), so this listener
does, in the scheduler, when a run finishes: the ``note`` of the ``summary`` task's return
value ("v7 promoted: roc_auc 0.812 vs 0.791 (v6)"), or for a run that failed before it,
"blocked: validation, 3 checks failed" or the tasks that failed; for a drift-monitor run,
what the window showed (:func:`~airflow_mlops.listeners.monitor_note.monitor_note`). A note
someone already wrote is left as it is. Register the module as a plugin's ``listeners``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.listeners import hookimpl

from airflow_mlops.listeners.monitor_note import monitor_note
from airflow_mlops.operators.decision import blocked_note
from airflow_mlops.operators.links import LINKS_XCOM_KEY

if TYPE_CHECKING:
    from airflow.models.dagrun import DagRun

SUMMARY_TASK, VALIDATE_TASK = "summary", "validate"


@hookimpl
def on_dag_run_success(dag_run: DagRun, msg: str) -> None:
    annotate(dag_run)


@hookimpl
def on_dag_run_failed(dag_run: DagRun, msg: str) -> None:
    annotate(dag_run)


def annotate(dag_run: DagRun) -> None:
    """Set the run's note to :func:`night_note` unless it has one or nothing to say.

    The run handed to listeners may be detached from the scheduler's session, so the note
    is read and written in a session (and transaction) of its own.
    """
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session(scoped=False) as session:
        run = session.query(DagRun).filter_by(dag_id=dag_run.dag_id,
                                              run_id=dag_run.run_id).one_or_none()
        if run is None or run.note:
            return
        note = night_note(_xcoms(session, run), _failed_tasks(session, run))
        if note:
            run.note = note


def night_note(xcoms: dict[tuple[str, str], Any], failed_tasks: list[str]) -> str | None:
    """The note for a run given its XComs ((task_id, key) to value) and its failed tasks;
    None for a run none of the product's tasks ran in."""
    summary = xcoms.get((SUMMARY_TASK, "return_value"))
    if isinstance(summary, dict) and summary.get("note"):
        return summary["note"]
    if note := monitor_note(xcoms, failed_tasks):
        return note
    if not any(key == LINKS_XCOM_KEY for _, key in xcoms):
        return None
    blocked = blocked_note(xcoms.get((VALIDATE_TASK, "return_value")))
    if blocked and VALIDATE_TASK in failed_tasks:
        return blocked
    if failed_tasks:
        return f"failed at {', '.join(sorted(failed_tasks))}"
    return None


def _xcoms(session: Any, dag_run: DagRun) -> dict[tuple[str, str], Any]:
    from airflow.models.xcom import XComModel

    rows = session.scalars(XComModel.get_many(run_id=dag_run.run_id, dag_ids=dag_run.dag_id))
    found = {}
    for row in rows:
        if row.key in ("return_value", LINKS_XCOM_KEY):
            found[(row.task_id, row.key)] = XComModel.deserialize_value(row)
    return found


def _failed_tasks(session: Any, dag_run: DagRun) -> list[str]:
    from airflow.utils.state import TaskInstanceState

    return [ti.task_id for ti in dag_run.get_task_instances(session=session)
            if ti.state == TaskInstanceState.FAILED]
