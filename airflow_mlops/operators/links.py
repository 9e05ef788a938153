"""Where a task's reports live, and the extra link that leads there from the Airflow UI.

An operator stores its report, pushes the report's location to XCom under
:data:`REPORT_XCOM_KEY`, and declares ``operator_extra_links = (ReportLink(),)``. At the end of
the task Airflow calls :meth:`ReportLink.get_link`, which reads that XCom back; the UI shows
the result as a button on the task instance.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from airflow.sdk import BaseOperatorLink, ObjectStoragePath

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator, Context
    from airflow.sdk.types import TaskInstanceKey

REPORT_XCOM_KEY = "report_location"
RESULTS_SECTION = "mlops"
RESULTS_OPTION = "results_base_uri"


class ReportLink(BaseOperatorLink):
    """Opens the report the task stored: a results file or an MLflow run's artifact."""

    name = "Report"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        from airflow.sdk.execution_time.xcom import XCom

        return XCom.get_value(ti_key=ti_key, key=REPORT_XCOM_KEY) or ""


def storage_path(uri: str) -> ObjectStoragePath:
    """An ObjectStoragePath for a URI (``s3://conn_id@bucket/key``...) or a local path."""
    return ObjectStoragePath(uri if "://" in uri else f"file://{Path(uri).absolute()}")


def results_base_uri() -> str:
    """Config ``[mlops] results_base_uri``; ``$AIRFLOW_HOME/mlops-results`` when unset."""
    from airflow.sdk import conf

    configured = conf.get(RESULTS_SECTION, RESULTS_OPTION, fallback=None)
    home = os.environ.get("AIRFLOW_HOME", os.path.expanduser("~/airflow"))
    return configured or os.path.join(home, "mlops-results")


def default_results_uri(context: Context, kind: str) -> str:
    """``<base>/<kind>/<dag_id>/<run_id>/<task_id>[/<map_index>]``: a re-run reuses it."""
    ti = context["ti"]
    parts = [kind, ti.dag_id, ti.run_id, ti.task_id]
    if ti.map_index is not None and ti.map_index >= 0:
        parts.append(str(ti.map_index))
    return "/".join([results_base_uri().rstrip("/"), *parts])
