"""Keeping a version's model card current from the Airflow side: facts of the run, approvals."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_mlops.hooks.mlflow import MlflowHook

if TYPE_CHECKING:
    from airflow.sdk import Context


def data_interval(context: Context) -> tuple[str, str] | None:
    """The run's data interval as ISO timestamps, None for a run without one."""
    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    return None if start is None or end is None else (start.isoformat(), end.isoformat())


class RecordApproval:
    """
    A success callback for the approval task: tag the human's answer on the challenger and
    rewrite its model card.

    The approval task's HITL summary (``hitl_summary``, kept for listeners) says what was
    chosen, by whom and when; an answer that came from the default after the timeout has
    nobody behind it.

    :param model_name: registered model name.
    :param decision_task_id: the task whose return value names ``challenger_version``.
    :param mlflow_conn_id: connection of the tracking server and registry.
    """

    def __init__(self, *, model_name: str, decision_task_id: str = "evaluate",
                 mlflow_conn_id: str = MlflowHook.default_conn_name) -> None:
        self.model_name = model_name
        self.decision_task_id = decision_task_id
        self.mlflow_conn_id = mlflow_conn_id

    def __call__(self, context: Context) -> None:
        from mlflow import MlflowClient

        from airflow_mlops.core import registry
        from airflow_mlops.core.model_card import write_card

        answer = getattr(context["task"], "hitl_summary", None) or {}
        version = context["ti"].xcom_pull(task_ids=self.decision_task_id)["challenger_version"]
        user = answer.get("responded_by_user") or {}
        responded_at = answer.get("responded_at")
        with MlflowHook(mlflow_conn_id=self.mlflow_conn_id).session():
            client = MlflowClient()
            registry.set_version_tags(client, self.model_name, version, {
                "approval": ", ".join(answer.get("chosen_options") or []) or "no answer",
                "approved_by": user.get("name") or user.get("id") or "",
                "approved_at": responded_at if isinstance(responded_at, str)
                else (responded_at.isoformat() if responded_at else ""),
            })
            write_card(client, self.model_name, version)
