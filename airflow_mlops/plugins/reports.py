"""Which stored report a task's report link names, and reading it back for the browser.

A report link names a task instance and a report name; the task itself recorded where that
report is (XCom :data:`REPORTS_XCOM_KEY`, name to location). Nothing from the request becomes
a path: an unknown name is refused, a results file must lie under ``[mlops]
results_base_uri``, and an MLflow artifact location must be a ``runs:/`` URI without ``..``.
"""

from __future__ import annotations

import mimetypes
import os
import posixpath
from typing import TYPE_CHECKING

from airflow_mlops.core.paths import refuse_traversal, require_under
from airflow_mlops.operators.links import REPORT_XCOM_KEY, results_base_uri

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

REPORTS_XCOM_KEY = "mlops_reports"
MLFLOW_SCHEME = "runs:/"
# A report rendered by the product is shown as what it is; anything else is a download.
SHOWN_TYPES = {".html": "text/html; charset=utf-8", ".json": "application/json",
               ".png": "image/png", ".svg": "image/svg+xml", ".txt": "text/plain; charset=utf-8"}


class UnknownReport(LookupError):
    """The task instance recorded no report of that name."""


def stored_location(session: Session, *, dag_id: str, run_id: str, task_id: str, name: str,
                    map_index: int = -1) -> str:
    """Where the task instance stored its report ``name``.

    :raises UnknownReport: the task recorded no report of that name.
    """
    from airflow.models.xcom import XComModel
    from sqlalchemy import select

    from airflow_mlops.plugins.nights import deserialized

    rows = session.execute(
        select(XComModel.key, XComModel.value).where(
            XComModel.dag_id == dag_id, XComModel.run_id == run_id,
            XComModel.task_id == task_id, XComModel.map_index == map_index,
            XComModel.key.in_((REPORTS_XCOM_KEY, REPORT_XCOM_KEY)),
        )
    )
    pushed = {key: deserialized(value) for key, value in rows}
    reports = pushed.get(REPORTS_XCOM_KEY)
    if isinstance(reports, dict) and isinstance(reports.get(name), str):
        return reports[name]
    main = pushed.get(REPORT_XCOM_KEY)  # the single report of nights before mlops_reports
    if isinstance(main, str) and posixpath.basename(main.rstrip("/")) == name:
        return main
    raise UnknownReport(f"task {dag_id}/{run_id}/{task_id} recorded no report '{name}'")


def checked_location(location: str) -> str:
    """``location`` if it is a ``runs:/`` artifact or a file under the results base.

    :raises PathEscapeError: it is neither, or it climbs out.
    """
    if location.startswith(MLFLOW_SCHEME):
        return refuse_traversal(location, what="report artifact")
    return require_under(_as_uri(results_base_uri()), _as_uri(location), what="report")


def _as_uri(location: str) -> str:
    """A local path as a ``file://`` URI, as ObjectStoragePath names it; URIs unchanged."""
    return location if "://" in location else f"file://{os.path.abspath(location)}"


def media_type(name: str) -> str:
    """The content type a report is served with; unknown kinds as a download."""
    suffix = posixpath.splitext(name)[1].lower()
    return SHOWN_TYPES.get(suffix) or mimetypes.types_map.get(suffix) or "application/octet-stream"

