"""Which DAG run produced an artifact: the tags every MLflow side effect carries."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow.sdk import Context


def run_lineage(context: Context, **extra: str) -> dict[str, str]:
    """dag_id, run_id and task_id of the running task, plus ``extra``."""
    ti = context["ti"]
    return {"dag_id": ti.dag_id, "run_id": ti.run_id, "task_id": ti.task_id, **extra}


def night(context: Context) -> str:
    """The run's date (``ds``; the date it ran after when it has no logical date)."""
    return context.get("ds") or f"{context['dag_run'].run_after:%Y-%m-%d}"
