"""The history of monitored windows, kept in MLflow, and the retrain decision it supports.

Each checked window is one run in the experiment ``<model experiment>/monitoring``, tagged
with its monitor (``drift`` or ``quality``), the window, the champion version it was checked
against and whether it drifted, and holding the window's reports as artifacts. Every worker
sees it; checking the same window again updates the same run instead of adding one.

A retrain is requested from a window (see :func:`decide_retrain`) when

- that window drifted, and at least ``min_drifted`` of the last ``windows`` windows checked
  against the *same champion* drifted (a new champion has new reference data, so evidence
  gathered against the old one does not count);
- no retrain was requested for a window ending within ``cooldown_hours`` of this one
  (inclusive: with daily windows and 24 hours, the next day's window cannot request again).

All times are the windows' own (their data intervals), never the clock: a re-run of a window
decides the same way, and a backfill cannot request more retrains than the cooldown allows.

The same experiment caches data every window needs, such as the champion's sampled reference
(:func:`cached_sample`), so it is parsed and verified once per champion and reference file
contents, not once per window, and the digest of the reference file per file version
(:func:`remembered_digest`), so its bytes are read again only when the file was rewritten.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from airflow_mlops.core import registry
from airflow_mlops.core.failure import Verdict
from airflow_mlops.core.io import FileVersion, Sampled
from airflow_mlops.core.reports import mlflow_artifact_link
from airflow_mlops.core.tracking import ensure_experiment

WINDOW_END_METRIC = "window_end"
CACHE_MONITOR = "cache"
CACHE_FILE = "frame.parquet"
DIGEST_MONITOR = "file_digest"
# A file modified this soon before it was hashed could change again within the same
# modification time (file systems and stores keep it at coarse resolution): not remembered.
RACY_SECONDS = 2.0
DRIFTED_VALUES = {True: "true", False: "false", None: "error"}


def monitoring_experiment(experiment_name: str) -> str:
    """The experiment that holds a model's monitored windows."""
    return f"{experiment_name}/monitoring"


@dataclass(frozen=True)
class Window:
    """The data interval one monitoring run looked at; ``ds`` is its partition date."""

    start: dt.datetime
    end: dt.datetime
    ds: str | None = None

    @property
    def key(self) -> str:
        """Identifies the window across runs, retries and monitors."""
        return f"{self.start.isoformat()}/{self.end.isoformat()}"

    def to_dict(self) -> dict:
        """JSON form, for summaries and asset event extras."""
        return {"start": self.start.isoformat(), "end": self.end.isoformat(), "ds": self.ds,
                "key": self.key}


@dataclass(frozen=True)
class Hysteresis:
    """``min_drifted`` of the last ``windows`` windows, and ``cooldown_hours`` between requests."""

    windows: int = 3
    min_drifted: int = 2
    cooldown_hours: float = 24.0


@dataclass(frozen=True)
class CheckedWindow:
    """What a monitor found in one window: the summary (at most 4 KB) and the verdict."""

    summary: dict
    verdict: Verdict


class WindowRecord(NamedTuple):
    """A checked window as the history holds it."""

    key: str
    end: dt.datetime
    drifted: bool


class Request(NamedTuple):
    """A retrain requested earlier, for the window ``key`` ending at ``end``."""

    key: str
    end: dt.datetime


@dataclass(frozen=True)
class RetrainDecision:
    """Whether to request a retrain now, and why."""

    requested: bool
    reason: str
    drifted_windows: int = 0
    windows: int = 0

    def to_dict(self) -> dict:
        """JSON form."""
        return {"requested": self.requested, "reason": self.reason,
                "drifted_windows": self.drifted_windows, "windows": self.windows}


def _find_run(client, experiment_id: str, monitor: str, window: Window):
    runs = client.search_runs(
        [experiment_id],
        filter_string=f"tags.`{registry.tag('monitor')}` = '{monitor}' and "
        f"tags.`{registry.tag('window_key')}` = '{window.key}'",
        max_results=1,
    )
    return runs[0] if runs else None


def record_window(
    *,
    experiment_name: str,
    monitor: str,
    window: Window,
    drifted: bool | None,
    champion_version: str | None,
    metrics: dict[str, float],
    files: dict[str, str],
    report_file: str,
    lineage: dict[str, str],
    artifact_location: str | None = None,
) -> dict:
    """Record a checked window (``drifted`` None: it could not be checked) and its reports.

    ``files`` are logged under ``<monitor>/``. Checking the same window again updates its
    run. The verdict tag is written last, so a run cut short is never counted.

    :return: ``run_id``, and ``report``: a link to ``report_file`` (the MLflow UI's page for
        it when the tracking server speaks HTTP, else the artifact's URI).
    """
    import mlflow

    client = mlflow.MlflowClient()
    experiment_id = ensure_experiment(monitoring_experiment(experiment_name), artifact_location)
    run = _find_run(client, experiment_id, monitor, window)
    tags = {registry.tag(k): v for k, v in lineage.items()} | {
        registry.tag("monitor"): monitor,
        registry.tag("window_key"): window.key,
        registry.tag("window_start"): window.start.isoformat(),
        registry.tag("window_end"): window.end.isoformat(),
        registry.tag("champion_version"): champion_version or "none",
    }
    if run is None:
        run = client.create_run(experiment_id, tags=tags,
                                run_name=f"{monitor} {window.end:%Y-%m-%d %H:%M}")
    else:
        for key, value in tags.items():
            client.set_tag(run.info.run_id, key, value)
    run_id = run.info.run_id
    for name, text in files.items():
        client.log_text(run_id, text, f"{monitor}/{name}")
    for key, value in {**metrics, WINDOW_END_METRIC: window.end.timestamp()}.items():
        client.log_metric(run_id, key, value)
    client.set_tag(run_id, registry.tag("drifted"), DRIFTED_VALUES[drifted])
    client.set_terminated(run_id, "FINISHED" if drifted is not None else "FAILED")
    report = mlflow_artifact_link(client.tracking_uri, experiment_id, run_id,
                                  run.info.artifact_uri, f"{monitor}/{report_file}")
    return {"run_id": run_id, "report": report}


def recent_windows(
    experiment_name: str, monitor: str, champion_version: str, until: dt.datetime, count: int
) -> list[WindowRecord]:
    """The last ``count`` windows ending at or before ``until`` checked against the version."""
    import mlflow

    client = mlflow.MlflowClient()
    experiment = client.get_experiment_by_name(monitoring_experiment(experiment_name))
    if experiment is None:
        return []
    runs = client.search_runs(
        [experiment.experiment_id],
        filter_string=(
            f"tags.`{registry.tag('monitor')}` = '{monitor}' and "
            f"tags.`{registry.tag('champion_version')}` = '{champion_version}' and "
            f"tags.`{registry.tag('drifted')}` != 'error' and "
            f"metrics.{WINDOW_END_METRIC} <= {until.timestamp()}"
        ),
        order_by=[f"metrics.{WINDOW_END_METRIC} DESC"],
        max_results=count,
    )
    return [
        WindowRecord(
            key=run.data.tags[registry.tag("window_key")],
            end=dt.datetime.fromtimestamp(run.data.metrics[WINDOW_END_METRIC], dt.timezone.utc),
            drifted=run.data.tags[registry.tag("drifted")] == "true",
        )
        for run in runs
    ]


def decide_retrain(
    records: list[WindowRecord], *, window: Window, hysteresis: Hysteresis,
    requests: list[Request], what: str = "drifted",
) -> RetrainDecision:
    """Request a retrain from ``window``? ``records`` are the newest windows first."""
    if any(request.key == window.key for request in requests):
        return RetrainDecision(False, "a retrain was already requested for this window")
    current = next((r for r in records if r.key == window.key), None)
    if current is None or not current.drifted:
        return RetrainDecision(False, f"this window has not {what}")
    considered = records[: hysteresis.windows]
    count = sum(record.drifted for record in considered)
    tally = (f"{count} of the last {len(considered)} windows {what} "
             f"({hysteresis.min_drifted} of {hysteresis.windows} needed)")
    if count < hysteresis.min_drifted:
        return RetrainDecision(False, tally, count, len(considered))
    cooldown = dt.timedelta(hours=hysteresis.cooldown_hours)
    recent = [r for r in requests if abs(window.end - r.end) <= cooldown]
    if recent:
        return RetrainDecision(
            False,
            f"{tally}, but a retrain was requested for the window ending "
            f"{recent[0].end.isoformat()}, within the {hysteresis.cooldown_hours:g} h cooldown",
            count, len(considered),
        )
    return RetrainDecision(True, tally, count, len(considered))


def mark_requested(experiment_name: str, monitor: str, window: Window) -> None:
    """Note on the window's run that it requested a retrain."""
    import mlflow

    client = mlflow.MlflowClient()
    experiment = client.get_experiment_by_name(monitoring_experiment(experiment_name))
    run = experiment and _find_run(client, experiment.experiment_id, monitor, window)
    if run:
        client.set_tag(run.info.run_id, registry.tag("retrain_requested"), "true")


def cached_sample(
    experiment_name: str, key: str, build: Callable[[], Sampled],
    artifact_location: str | None = None,
) -> Sampled:
    """The sample stored for ``key`` in the monitoring experiment; ``build()`` on first use.

    The sampled frame is an artifact, the row count it was drawn from a tag. Frames Parquet
    cannot hold (mixed-type columns) are built every time instead.
    """
    import mlflow
    import pandas as pd
    from pyarrow import ArrowException

    client = mlflow.MlflowClient()
    experiment_id = ensure_experiment(monitoring_experiment(experiment_name), artifact_location)
    runs = client.search_runs(
        [experiment_id],
        filter_string=f"tags.`{registry.tag('monitor')}` = '{CACHE_MONITOR}' and "
        f"tags.`{registry.tag('cache_key')}` = '{key}' and attributes.status = 'FINISHED'",
        max_results=1,
    )
    with tempfile.TemporaryDirectory(prefix="airflow-mlops-cache-") as folder:
        if runs:
            frame = pd.read_parquet(client.download_artifacts(runs[0].info.run_id, CACHE_FILE,
                                                              folder))
            rows = runs[0].data.tags.get(registry.tag("rows"))
            return Sampled(frame, int(rows) if rows else len(frame.index), list(frame.columns))
        built = build()
        path = Path(folder) / CACHE_FILE
        try:
            built.frame.to_parquet(path, index=False)
        except (ArrowException, ValueError, TypeError):
            return built
        run = client.create_run(experiment_id, run_name=f"cache {key}", tags={
            registry.tag("monitor"): CACHE_MONITOR, registry.tag("cache_key"): key,
            registry.tag("rows"): str(built.rows)})
        client.log_artifact(run.info.run_id, str(path))
        client.set_terminated(run.info.run_id, "FINISHED")
    return built


def remembered_digest(
    experiment_name: str, location: str, version: FileVersion | None, compute: Callable[[], str],
    artifact_location: str | None = None,
) -> tuple[str, Callable[[], None]]:
    """``compute()``'d digest of the file at ``location``, remembered per file ``version``.

    ``version`` is the file's :func:`~airflow_mlops.core.io.file_version`;
    the digest is looked up under it in the monitoring experiment and computed only when the
    file is new or was rewritten. Without a version, or for a file modified within
    :data:`RACY_SECONDS` of being hashed, it is computed every time.

    :return: the digest, and a function that remembers a computed one: call it once the
        file's contents are verified, so nothing is stored about a file that was refused.
    """
    import mlflow

    if version is None:
        return compute(), _nothing
    client = mlflow.MlflowClient()
    experiment_id = ensure_experiment(monitoring_experiment(experiment_name), artifact_location)
    where = hashlib.sha256(location.encode()).hexdigest()[:16]
    runs = client.search_runs(
        [experiment_id],
        filter_string=f"tags.`{registry.tag('monitor')}` = '{DIGEST_MONITOR}' and "
        f"tags.`{registry.tag('location_key')}` = '{where}' and "
        f"tags.`{registry.tag('file_version')}` = '{version}'",
        max_results=1,
    )
    if runs:
        return runs[0].data.tags[registry.tag("digest")], _nothing
    hashed_at = time.time()
    digest = compute()
    if hashed_at - version.mtime_ns / 1e9 < RACY_SECONDS:
        return digest, _nothing

    def remember() -> None:
        run = client.create_run(experiment_id, run_name=f"digest {location}", tags={
            registry.tag("monitor"): DIGEST_MONITOR, registry.tag("location_key"): where,
            registry.tag("location"): location, registry.tag("file_version"): str(version),
            registry.tag("digest"): digest})
        client.set_terminated(run.info.run_id, "FINISHED")

    return digest, remember


def _nothing() -> None:
    """Nothing to remember."""
