"""DriftCheckOperator, and RequestRetrainOperator: drift monitoring that can request a retrain."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from airflow_mlops.core.drift_history import (
    Hysteresis,
    Request,
    Schedule,
    Window,
    cooldown_around,
    short_cooldown,
)
from airflow_mlops.core.errors import ConfigError, MlopsError
from airflow_mlops.core.failure import FailurePolicy
from airflow_mlops.hooks.mlflow import MlflowHook
from airflow_mlops.operators.failure import enforce
from airflow_mlops.operators.lineage import run_lineage
from airflow_mlops.operators.links import (
    REPORT_XCOM_KEY,
    RESULTS_SECTION,
    MlflowRunLink,
    ReportLink,
    TaskLinks,
    split_runs_uri,
    storage_path,
)
from airflow_mlops.operators.templating import ConfigTemplatedMixin

if TYPE_CHECKING:
    from airflow.sdk import Asset, Context

    from airflow_mlops.core.drift_history import CheckedWindow

# How many of the retrain asset's newest events are read for earlier requests.
RECENT_REQUESTS = 100
REFERENCE_ROOTS_OPTION = "reference_roots"


def configured_reference_roots() -> list[str]:
    """Config ``[mlops] reference_roots``: more folders (comma-separated) the champion's
    recorded training data may be read from."""
    from airflow.sdk import conf

    configured = conf.get(RESULTS_SECTION, REFERENCE_ROOTS_OPTION, fallback="") or ""
    return [root.strip() for root in configured.split(",") if root.strip()]


def cron_schedule(timetable: Any) -> Schedule | None:
    """The cron schedule of a DAG's timetable (Airflow's cron timetables), else None."""
    expression = getattr(timetable, "expression", None)
    if not isinstance(expression, str):
        return None
    timezone = getattr(timetable, "timezone", "UTC")
    if isinstance(timezone, str):
        from zoneinfo import ZoneInfo

        timezone = ZoneInfo(timezone)
    return Schedule(expression, timezone)


def monitoring_window(context: Context) -> Window:
    """The run's data interval (its ``run_after`` when it has none) and partition date."""
    run_after = context["dag_run"].run_after
    start = context.get("data_interval_start") or run_after
    end = context.get("data_interval_end") or run_after
    return Window(start=start, end=end, ds=context.get("ds") or f"{end:%Y-%m-%d}")


def finish_check(operator: BaseOperator, context: Context, checked: CheckedWindow) -> dict:
    """Push the summary, the report location and links, then fail, skip or warn by the
    verdict."""
    summary = checked.summary
    context["ti"].xcom_push(key=REPORT_XCOM_KEY, value=summary.get("report"))
    links = TaskLinks(context, MlflowHook(mlflow_conn_id=operator.mlflow_conn_id).get_target())
    artifact = summary.get("report_artifact")
    links.artifact(ReportLink, artifact)
    links.run(MlflowRunLink, split_runs_uri(artifact)[0] if artifact else None)
    links.push()
    if operator.do_xcom_push:
        context["ti"].xcom_push(key="return_value", value=summary)
    if checked.verdict.passed:
        operator.log.info("Check passed. Report: %s", links.links[ReportLink.name]
                          or summary.get("report"))
    enforce(checked.verdict, operator.log)
    return checked.summary


class DriftCheckOperator(ConfigTemplatedMixin, BaseOperator):
    """
    Compare the interval's data with the champion's training data (Evidently); act by policy.

    The reference is the data the ``champion`` version was trained on (its recorded URI,
    fingerprint and digest) or ``reference_uri``. A recorded URI is read only inside
    ``reference_roots`` or a folder of config ``[mlops] reference_roots``, and only when the
    version records the data's fingerprint or digest, which the data must match. Monitored
    are the features, and the target and ``prediction`` columns where both data sets have
    them. A window has drifted when at least
    ``drift_share`` of the columns drifted. Windows above ``sample_size`` rows are sampled
    (Parquet while it is read). Data is read through ObjectStoragePath: object storage URIs
    such as ``s3://conn_id@bucket/key`` use the connection's credentials.

    Evidently's HTML report and the full JSON result are logged to the window's run in the
    MLflow experiment ``<experiment_name>/monitoring`` (the window history that
    :class:`RequestRetrainOperator` reads); the task's "Report" link opens them. The return
    value is a summary of at most 4 KB: share of drifted columns and, per column, method,
    score and drifted. A model without champion skips the task.

    :param model_name: registered model whose champion is monitored.
    :param data_uri: the window's CSV or Parquet file, local or object storage. (templated)
    :param table: instead, a table (``schema.table``) on ``conn_id``; the window's sample is
        drawn in the database (PostgreSQL ``TABLESAMPLE``, else by ``key_column``). (templated)
    :param where: SQL condition selecting the table's window, e.g. ``day = '{{ ds }}'``.
        (templated)
    :param conn_id: the SQL connection of ``table``.
    :param key_column: integer column a sample is drawn by where ``TABLESAMPLE`` is not used.
    :param experiment_name: the model's MLflow experiment. (templated)
    :param target: label column; monitored when the window has it.
    :param features: feature columns; every reference column but target and prediction if None.
    :param prediction: column of model outputs; monitored when both data sets have it.
    :param reference_uri: data to compare with instead of the champion's training data.
        (templated)
    :param reference_roots: folders the champion's recorded training data may lie in: the
        model's data folder (:func:`~airflow_mlops.core.paths.template_root` of its data URI).
    :param drift_share: share of drifted columns from which the window has drifted.
    :param method: Evidently drift method for every column; chosen per column when None.
    :param threshold: threshold of the method; the method's default when None.
    :param columns: per column ``{"method": ..., "threshold": ...}``.
    :param sample_size: rows kept of larger windows (and references); None keeps all.
    :param seed: seed of the sampling.
    :param on_failure: after drift: ``fail`` (no retry), ``warn`` or ``skip``.
    :param dry_run: report only: never fail or skip.
    :param mlflow_conn_id: connection of the tracking server and registry.
    """

    template_fields: Sequence[str] = ("data_uri", "table", "where", "experiment_name",
                                      "reference_uri")
    config_template_fields: Sequence[str] = ("data_uri", "table", "where", "reference_uri")
    operator_extra_links = (ReportLink(), MlflowRunLink())

    def __init__(
        self,
        *,
        model_name: str,
        experiment_name: str,
        data_uri: str | None = None,
        table: str | None = None,
        where: str | None = None,
        conn_id: str | None = None,
        key_column: str | None = None,
        target: str | None = None,
        features: list[str] | None = None,
        prediction: str | None = None,
        reference_uri: str | None = None,
        reference_roots: Sequence[str] = (),
        drift_share: float = 0.5,
        method: str | None = None,
        threshold: float | None = None,
        columns: dict[str, dict[str, Any]] | None = None,
        sample_size: int | None = 100_000,
        seed: int = 0,
        on_failure: str = "warn",
        dry_run: bool = False,
        mlflow_conn_id: str = MlflowHook.default_conn_name,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        FailurePolicy(on_failure=on_failure, dry_run=dry_run)
        if (data_uri is None) == (table is None) or (table is not None and not conn_id):
            raise ConfigError(f"{self.task_id}: give data_uri, or table with conn_id")
        self.model_name = model_name
        self.data_uri = data_uri
        self.table = table
        self.where = where
        self.conn_id = conn_id
        self.key_column = key_column
        self.experiment_name = experiment_name
        self.target = target
        self.features = features
        self.prediction = prediction
        self.reference_uri = reference_uri
        self.reference_roots = reference_roots
        self.drift_share = drift_share
        self.method = method
        self.threshold = threshold
        self.columns = columns
        self.sample_size = sample_size
        self.seed = seed
        self.on_failure = on_failure
        self.dry_run = dry_run
        self.mlflow_conn_id = mlflow_conn_id

    def execute(self, context: Context) -> dict:
        from functools import partial

        from airflow_mlops.core.drift import DriftOptions, NoChampionError, monitor_drift
        from airflow_mlops.core.sql_sources import SqlSource, SqlUnreachableError

        hook = MlflowHook(mlflow_conn_id=self.mlflow_conn_id)
        options = DriftOptions(
            drift_share=self.drift_share, method=self.method, threshold=self.threshold,
            columns=self.columns or {}, sample_size=self.sample_size, seed=self.seed,
        )
        try:
            source = None if self.table is None else SqlSource.on_connection(
                self.conn_id, table=self.table, where=self.where or None)
            with hook.session():
                checked = monitor_drift(
                    model_name=self.model_name,
                    experiment_name=self.experiment_name,
                    window=monitoring_window(context),
                    data_uri=self.data_uri or source.name,
                    target=self.target,
                    features=self.features,
                    prediction=self.prediction,
                    reference_uri=self.reference_uri,
                    reference_roots=[*self.reference_roots, *configured_reference_roots()],
                    options=options,
                    policy=FailurePolicy(on_failure=self.on_failure, dry_run=self.dry_run),
                    lineage=run_lineage(context),
                    artifact_location=hook.get_target().artifact_location,
                    locate=storage_path,
                    sample_current=None if source is None else partial(
                        source.read_sample, self.sample_size, self.seed, self.key_column),
                )
        except NoChampionError as exc:
            raise AirflowSkipException(str(exc)) from None
        except SqlUnreachableError:
            raise  # the database may answer on a retry
        except MlopsError as exc:
            raise AirflowFailException(str(exc)) from None
        self._outcome = checked.summary
        return finish_check(self, context, checked)

    def get_openlineage_facets_on_complete(self, task_instance):
        """OpenLineage: both windows in, the drift scores as a facet."""
        from airflow_mlops.operators.openlineage import drift_lineage

        return drift_lineage(self)


def earlier_requests(events: Sequence[Any]) -> list[Request]:
    """Retrain requests among asset events: those a monitor emitted (with a window)."""
    requests = []
    for event in events:
        window = (event.extra or {}).get("window") if isinstance(event.extra, dict) else None
        if isinstance(window, dict) and window.get("key") and window.get("end"):
            requests.append(Request(window["key"], dt.datetime.fromisoformat(window["end"])))
    return requests


class RequestRetrainOperator(BaseOperator):
    """
    Request a retrain, as an event of the model's retrain asset, when monitoring confirms it.

    Reads the summaries the monitor tasks returned (drift, quality) and, for each, the window
    history in MLflow: a retrain is requested when this window drifted (or decayed), at
    least ``min_drifted`` of the last ``windows`` windows checked against the same champion
    did too, and no retrain was requested for a window within ``cooldown_windows``
    intervals of the DAG's cron schedule, or ``cooldown_hours`` where that is set (earlier
    requests are read from the asset's own events). The event's extra holds the window, the
    reasons and the monitors' summaries. Otherwise, and in a dry run, the task is skipped
    and no event is emitted. Give it ``trigger_rule="all_done"`` so a check that failed by
    policy still counts.

    :param model_name: registered model to retrain.
    :param retrain_asset: the asset the model's retrain DAG is scheduled on.
    :param check_task_ids: tasks whose return values are monitor summaries.
    :param experiment_name: the model's MLflow experiment. (templated)
    :param windows: how many recent windows are considered (M).
    :param min_drifted: how many of them must have drifted (N).
    :param cooldown_windows: no request within this many schedule intervals (inclusive) of
        an earlier one; a DAG without a cron schedule counts its runs' data intervals.
    :param cooldown_hours: no request within this many hours (inclusive) of an earlier one,
        instead of ``cooldown_windows``; a warning says when it is shorter than one interval.
    :param mlflow_conn_id: connection of the tracking server and registry.
    """

    template_fields: Sequence[str] = ("experiment_name",)

    def __init__(
        self,
        *,
        model_name: str,
        retrain_asset: Asset,
        check_task_ids: Sequence[str],
        experiment_name: str,
        windows: int = 3,
        min_drifted: int = 2,
        cooldown_windows: int = 1,
        cooldown_hours: float | None = None,
        mlflow_conn_id: str = MlflowHook.default_conn_name,
        **kwargs,
    ) -> None:
        super().__init__(inlets=[retrain_asset], outlets=[retrain_asset], **kwargs)
        self.model_name = model_name
        self.retrain_asset = retrain_asset
        self.check_task_ids = check_task_ids
        self.experiment_name = experiment_name
        self.windows = windows
        self.min_drifted = min_drifted
        self.cooldown_windows = cooldown_windows
        self.cooldown_hours = cooldown_hours
        self.mlflow_conn_id = mlflow_conn_id

    def execute(self, context: Context) -> dict:
        from airflow_mlops.core.drift_history import decide_retrain, mark_requested, recent_windows

        ti = context["ti"]
        summaries = [ti.xcom_pull(task_ids=task_id) for task_id in self.check_task_ids]
        checked = [s for s in summaries if isinstance(s, dict) and s.get("drifted") is not None]
        if not checked:
            raise AirflowSkipException("no monitor could check this window; nothing to decide")
        window = monitoring_window(context)
        events = context["inlet_events"][self.retrain_asset].ascending(False).limit(
            RECENT_REQUESTS)
        requests = earlier_requests(events)
        hysteresis = Hysteresis(self.windows, self.min_drifted, self.cooldown_hours,
                                self.cooldown_windows)
        schedule = cron_schedule(getattr(context.get("dag"), "timetable", None))
        try:
            cooldown_around(window, hysteresis, schedule)  # one that cannot be counted fails once
        except MlopsError as exc:
            raise AirflowFailException(str(exc)) from None
        if problem := short_cooldown(hysteresis, schedule, window):
            self.log.warning(problem)
        decisions = {}
        with MlflowHook(mlflow_conn_id=self.mlflow_conn_id).session():
            for summary in checked:
                monitor = summary["monitor"]
                records = recent_windows(self.experiment_name, monitor,
                                         summary["champion_version"], window.end,
                                         hysteresis.windows)
                decisions[monitor] = decide_retrain(
                    records, window=window, hysteresis=hysteresis, requests=requests,
                    what="drifted" if monitor == "drift" else "decayed", schedule=schedule,
                )
            reasons = "; ".join(f"{m}: {d.reason}" for m, d in decisions.items())
            requested = [m for m, d in decisions.items() if d.requested]
            if not requested:
                raise AirflowSkipException(f"no retrain requested ({reasons})")
            if any(s["verdict"]["dry_run"] for s in checked):
                raise AirflowSkipException(f"dry run, would request a retrain ({reasons})")
            for monitor in requested:
                mark_requested(self.experiment_name, monitor, window)
        extra = {
            "model": self.model_name,
            "window": window.to_dict(),
            "requested_by": requested,
            "reasons": {m: d.reason for m, d in decisions.items()},
            "monitors": {s["monitor"]: s for s in checked},
        }
        context["outlet_events"][self.retrain_asset].extra = extra
        self.log.info("Retrain of %s requested: %s", self.model_name, reasons)
        return {"requested": True, "window": window.to_dict(), "reasons": extra["reasons"]}
