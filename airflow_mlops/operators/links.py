"""Where a task's evidence lives, and the extra links that lead there from the Airflow UI.

An operator collects its links in a :class:`TaskLinks` while it runs and pushes them (XCom
:data:`LINKS_XCOM_KEY`, link name to URL); each link class below reads its URL back by name
when Airflow asks at the end of the task, and the UI shows it as a button on the task
instance. Every URL is http(s): an MLflow UI page when MLflow has a web UI (the connection's
``ui_base_url`` extra or an http(s) tracking URI), else, for report files, the report endpoint
of the product's Airflow plugin (:func:`~airflow_mlops.core.urls.report_url`), which serves
the file named in XCom :data:`REPORTS_XCOM_KEY`. A link with nothing to open is ``""``: Airflow
shows no button for it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from airflow.sdk import BaseOperatorLink, ObjectStoragePath

from airflow_mlops.core import urls

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator, Context
    from airflow.sdk.types import TaskInstanceKey

    from airflow_mlops.core.tracking import TrackingTarget

REPORT_XCOM_KEY = "report_location"
LINKS_XCOM_KEY = "mlops_links"
REPORTS_XCOM_KEY = "mlops_reports"
RESULTS_SECTION = "mlops"
RESULTS_OPTION = "results_base_uri"
DEFAULT_API_PORT = "8080"


class PushedLink(BaseOperatorLink):
    """A link whose URL the task pushed under its :attr:`name` in :data:`LINKS_XCOM_KEY`."""

    name = "Link"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        from airflow.sdk.execution_time.xcom import XCom

        pushed = XCom.get_value(ti_key=ti_key, key=LINKS_XCOM_KEY) or {}
        url = pushed.get(self.name) or ""
        return url if urls.is_web(url) else ""


class ReportLink(PushedLink):
    """The task's report: an MLflow artifact page, or the file through Airflow's UI."""

    name = "Report"


class MlflowRunLink(PushedLink):
    """The MLflow run the task logged to."""

    name = "MLflow run"


class ModelVersionLink(PushedLink):
    """The registered model version the task made or acted on."""

    name = "Model version"


class DecisionRecordLink(PushedLink):
    """The evaluation's full decision record (JSON) on the challenger's run."""

    name = "Decision record"


class ComparisonChartLink(PushedLink):
    """The champion-versus-challenger chart on the challenger's run."""

    name = "Comparison chart"


class ChallengerVersionLink(PushedLink):
    """The challenger's model version."""

    name = "Challenger version"


class ChampionVersionLink(PushedLink):
    """The champion's model version the challenger was compared with."""

    name = "Champion version"


class LedgerEntryLink(PushedLink):
    """The alias-ledger entry (an MLflow run) recording the move."""

    name = "Ledger entry"


class ModelCardLink(PushedLink):
    """The model card (HTML page) of the version the task decided on or moved."""

    name = "Model card"


class OutputLink(PushedLink):
    """The task's output, when it lies at an http(s) address."""

    name = "Output"


def airflow_base_url() -> str:
    """Config ``[api] base_url``; ``http://localhost:<[api] port>`` when unset."""
    from airflow.sdk import conf

    configured = conf.get("api", "base_url", fallback=None)
    return configured or f"http://localhost:{conf.get('api', 'port', fallback=DEFAULT_API_PORT)}"


def dag_run_url(dag_id: str, run_id: str) -> str:
    """The Airflow UI page of a DAG run, at :func:`airflow_base_url`."""
    return urls.dag_run_url(airflow_base_url(), dag_id, run_id)


def split_runs_uri(uri: str) -> tuple[str, str]:
    """``runs:/<run_id>/<path>`` as (run_id, path)."""
    run_id, _, path = uri.removeprefix("runs:/").partition("/")
    return run_id, path


class TaskLinks:
    """The links (and report files) of one task instance, pushed together by :meth:`push`.

    :param context: the running task's context.
    :param target: the MLflow server the task used, if any; its UI is where links lead.
    """

    def __init__(self, context: Context, target: TrackingTarget | None) -> None:
        self.ti = context["ti"]
        self.target = target
        self.ui = target.ui_url if target else None
        self.links: dict[str, str] = {}
        self.reports: dict[str, str] = {}

    def run(self, link: type[PushedLink], run_id: str | None, *,
            experiment_id: str | None = None) -> None:
        """The MLflow UI page of a run; absent without a run or an MLflow UI."""
        ui = self.ui
        if not (ui and run_id):
            self.links[link.name] = ""
            return
        experiment_id = experiment_id or self._experiment_of(run_id)
        self.links[link.name] = urls.mlflow_run_url(ui, experiment_id, run_id)

    def version(self, link: type[PushedLink], model: str, version: str | None) -> None:
        """The MLflow UI page of a model version; absent without a version or a UI."""
        ui = self.ui
        self.links[link.name] = (urls.mlflow_version_url(ui, model, version)
                                 if ui and version else "")

    def artifact(self, link: type[PushedLink], uri: str | None, *,
                 experiment_id: str | None = None) -> None:
        """A report an MLflow run holds (``runs:/<run_id>/<path>``; absent when None).

        Opens in the MLflow UI when MLflow has one, else through the plugin's endpoint.
        """
        if not uri:
            self.links[link.name] = ""
            return
        run_id, path = split_runs_uri(uri)
        name = Path(path).name
        self.reports[name] = uri
        ui = self.ui
        if ui is None:
            self.links[link.name] = self._served(name)
            return
        experiment_id = experiment_id or self._experiment_of(run_id)
        self.links[link.name] = urls.mlflow_artifact_url(ui, experiment_id, run_id, path)

    def card(self, card_uri: str | None) -> None:
        """The HTML page of a model card (``runs:/`` URI of its Markdown; absent when None)."""
        from airflow_mlops.core.model_card import page_uri

        self.artifact(ModelCardLink, page_uri(card_uri))

    def file(self, link: type[PushedLink], location: str) -> None:
        """A report stored as a results file: served through the plugin's endpoint."""
        name = location.rstrip("/").rsplit("/", 1)[-1]
        self.reports[name] = location
        self.links[link.name] = self._served(name)

    def url(self, link: type[PushedLink], uri: str | None) -> None:
        """An address as it is, when a browser can open it; absent otherwise."""
        self.links[link.name] = uri if urls.is_web(uri) else ""

    def push(self) -> None:
        """Push the links and the report files to XCom (read by the links and the plugin)."""
        self.ti.xcom_push(key=LINKS_XCOM_KEY, value=self.links)
        if self.reports:
            self.ti.xcom_push(key=REPORTS_XCOM_KEY, value=self.reports)

    def _served(self, name: str) -> str:
        ti = self.ti
        return urls.report_url(airflow_base_url(), dag_id=ti.dag_id, run_id=ti.run_id,
                               task_id=ti.task_id, name=name)

    def _experiment_of(self, run_id: str) -> str:
        from mlflow import MlflowClient

        from airflow_mlops.core.tracking import tracking_session

        with tracking_session(self.target):
            return MlflowClient().get_run(run_id).info.experiment_id


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
