"""Benchmark: our drift check against a direct Evidently call, and what sampling buys.

For each window size (rows x 20 columns; 14 numerical, 6 categorical; 7 columns drifted by
construction, one of them barely), on the same in-memory rows:

- ``direct``: Evidently alone: ``Report([DataDriftPreset()]).run`` with the same column
  types, then the same outputs we produce (``Snapshot.dict()`` and the HTML page);
- ``ours``: :func:`airflow_mlops.core.drift.check_drift` without sampling, plus the report
  files (what the operator computes);
- ``sampled``: the same with the default seeded sampling (100,000 rows);
- ``e2e``: :func:`airflow_mlops.core.drift.monitor_drift` as the operator calls it, with the
  default sampling, on Parquet files and a local MLflow store, the champion recording the
  reference's row fingerprint and file digest as training does: the *first window* of a
  champion hashes the reference file and, its bytes being the trained-on ones, samples it
  while reading (and caches the sample); the *next window* finds the digest remembered for
  the file's size and modification time and loads the cached sample; both sample the current
  window while reading it (row group by row group) and log the reports.

With ``--unmonitored N`` both windows also have N numerical columns the model's config does
not monitor (wide data): ``direct``, ``ours`` and ``sampled`` get the 20 monitored columns
only, ``e2e`` gets the files with every column and the 20 as the configured features, so it
shows what the unmonitored columns cost the operator (a window is read with the monitored
columns only; a new champion's reference is read whole once, then cached).

Times are wall seconds, with CPU seconds of this process next to them (other work on the
machine inflates wall time, not CPU time). Evidently's import (about 11 s here) and its
first-run set-up are paid on a small window before timing. Verdicts are compared with the
known truth and, where the full check ran, the sampled verdicts with the full-data ones.

    .venv/bin/python bench/drift.py                      # 1e5 and 1e6 rows, every variant
    .venv/bin/python bench/drift.py --rows 1e7 --only sampled,e2e
    .venv/bin/python bench/drift.py --rows 1e6 --only e2e --unmonitored 180
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

NUMERICAL = 14
CATEGORICAL = 6
LEVELS = np.array(["a", "b", "c", "d", "e"], dtype=object)
PROBABILITIES = np.array([0.3, 0.25, 0.2, 0.15, 0.1])
# Column -> how the current window differs from the reference.
DRIFT = {
    "num_00": ("shift", 0.5),
    "num_01": ("shift", 1.0),
    "num_02": ("scale", 1.5),
    "num_03": ("shift", 0.3),
    "num_04": ("shift", 0.13),  # barely above Evidently's Wasserstein threshold of 0.1
    "cat_0": ("probabilities", PROBABILITIES[::-1]),
    "cat_1": ("probabilities", np.array([0.1, 0.15, 0.2, 0.25, 0.3])),
}
VARIANTS = ("direct", "ours", "sampled", "e2e")
MONITORED = [f"num_{i:02}" for i in range(NUMERICAL)] + [f"cat_{i}" for i in range(CATEGORICAL)]


def window(rows: int, seed: int, current: bool, unmonitored: int = 0) -> pd.DataFrame:
    """A seeded synthetic window; ``current`` applies :data:`DRIFT`; plus ``unmonitored``
    columns outside :data:`MONITORED`."""
    rng = np.random.default_rng(seed)
    columns = {}
    for i in range(NUMERICAL):
        name = f"num_{i:02}"
        kind, amount = DRIFT.get(name, (None, None)) if current else (None, None)
        values = rng.normal(0.0, amount if kind == "scale" else 1.0, rows)
        columns[name] = values + amount if kind == "shift" else values
    for i in range(CATEGORICAL):
        name = f"cat_{i}"
        kind, probabilities = DRIFT.get(name, (None, PROBABILITIES)) if current else (
            None, PROBABILITIES)
        codes = rng.choice(len(LEVELS), size=rows, p=probabilities)
        columns[name] = LEVELS.take(codes)  # shares five str objects: small at 1e7 rows
    for i in range(unmonitored):
        columns[f"extra_{i:03}"] = rng.normal(0.0, 1.0, rows)
    return pd.DataFrame(columns)


def timed(function):
    wall, cpu = time.perf_counter(), time.process_time()
    result = function()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def direct(reference: pd.DataFrame, current: pd.DataFrame) -> dict[str, bool]:
    """Evidently alone, with the same column types and outputs as ours."""
    import warnings

    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(
        numerical_columns=[c for c in reference.columns if c.startswith("num")],
        categorical_columns=[c for c in reference.columns if c.startswith("cat")],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        snapshot = Report([DataDriftPreset()], include_tests=True).run(
            Dataset.from_pandas(current, data_definition=definition),
            Dataset.from_pandas(reference, data_definition=definition),
        )
    result = snapshot.dict()
    snapshot.get_html_str(as_iframe=False)
    drifted = {t["metric_config"]["metric_id"]: str(getattr(t["status"], "value", t["status"]))
               == "FAIL" for t in result["tests"]}
    return {m["config"]["column"]: drifted[m["id"]] for m in result["metrics"]
            if m["config"]["type"].endswith("ValueDrift")}


def ours(reference: pd.DataFrame, current: pd.DataFrame, sample_size: int | None
         ) -> dict[str, bool]:
    from airflow_mlops.core.drift import DriftOptions, check_drift, report_files

    result = check_drift(reference, current, columns=list(reference.columns),
                         options=DriftOptions(sample_size=sample_size, seed=0))
    report_files(result.summary(), result)
    return {c.column: c.drifted for c in result.columns}


def end_to_end(folder: Path, reference: pd.DataFrame, current: pd.DataFrame) -> list[tuple]:
    """monitor_drift as the operator calls it, on a fresh local MLflow store: two windows.

    The first window of a champion reads, verifies and samples the reference and caches the
    sample; the next one hashes the reference file and loads that sample.
    """
    from mlflow import MlflowClient

    from airflow_mlops.core import registry
    from airflow_mlops.core.drift import DriftOptions, monitor_drift
    from airflow_mlops.core.drift_history import Window
    from airflow_mlops.core.failure import FailurePolicy
    from airflow_mlops.core.io import file_digest, fingerprint
    from airflow_mlops.core.tracking import TrackingTarget, tracking_session

    reference_path, current_path = folder / "reference.parquet", folder / "current.parquet"
    reference.to_parquet(reference_path, index=False)
    current.to_parquet(current_path, index=False)
    an_hour_ago = time.time() - 3600  # training data of an earlier night, not just written
    os.utime(reference_path, (an_hour_ago, an_hour_ago))
    tags = {registry.tag("data_uri"): str(reference_path),
            registry.tag("data_fingerprint"): fingerprint(pd.read_parquet(reference_path)),
            registry.tag("data_digest"): file_digest(reference_path)}
    store = folder / f"mlflow-{time.monotonic_ns()}"
    rows = []
    with tracking_session(TrackingTarget(f"sqlite:///{store}.db")):
        client = MlflowClient()
        client.create_registered_model("bench")
        version = client.create_model_version("bench", "file:///nowhere", tags=tags).version
        client.set_registered_model_alias("bench", registry.CHAMPION, version)
        for day, name in ((1, "e2e first window"), (2, "e2e next window")):
            start = dt.datetime(2026, 1, day, tzinfo=dt.timezone.utc)
            checked, wall, cpu = timed(lambda start=start: monitor_drift(
                model_name="bench", experiment_name="bench", data_uri=str(current_path),
                window=Window(start, start + dt.timedelta(days=1)), target=None,
                features=MONITORED, options=DriftOptions(sample_size=100_000, seed=0),
                policy=FailurePolicy(on_failure="warn"), lineage={},
                reference_roots=[str(folder)], artifact_location=str(store) + "-artifacts",
            ))
            verdicts = {c: v["drifted"] for c, v in checked.summary["per_column"].items()}
            rows.append((name, verdicts, wall, cpu))
    return rows


def measure(variant: str, reference: pd.DataFrame, current: pd.DataFrame, folder: Path
            ) -> list[tuple]:
    """(name, verdicts, wall s, CPU s) rows of one variant."""
    if variant == "e2e":
        return end_to_end(folder, reference, current)
    if len(reference.columns) > len(MONITORED):
        reference, current = reference[MONITORED], current[MONITORED]
    if variant == "direct":
        return [(variant, *timed(lambda: direct(reference, current)))]
    size = 100_000 if variant == "sampled" else None
    return [(variant, *timed(lambda: ours(reference, current, size)))]


def fastest(runs: list[list[tuple]]) -> list[tuple]:
    """Per row, the repeat with the least CPU time."""
    return [min(rows, key=lambda row: row[3]) for rows in zip(*runs, strict=True)]


def agreement(verdicts: dict[str, bool], reference: dict[str, bool]) -> str:
    same = sum(verdicts[c] == reference[c] for c in reference)
    return f"{same}/{len(reference)}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", nargs="+", type=float, default=[1e5, 1e6])
    parser.add_argument("--only", default=",".join(VARIANTS),
                        help=f"comma-separated subset of {', '.join(VARIANTS)}")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs per variant; the one with the least CPU time is shown")
    parser.add_argument("--unmonitored", type=int, default=0,
                        help="numerical columns in both windows that are not monitored")
    args = parser.parse_args(argv)
    truth = {f"num_{i:02}": f"num_{i:02}" in DRIFT for i in range(NUMERICAL)} | {
        f"cat_{i}": f"cat_{i}" in DRIFT for i in range(CATEGORICAL)}

    small = window(2_000, 1, False), window(2_000, 2, True)
    direct(*small), ours(*small, None)  # Evidently's import and first-run set-up: not timed

    print(f"# {dt.date.today()}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, pandas {pd.__version__}, "
          f"best of {args.repeat}, {args.unmonitored} unmonitored columns")
    print("| rows | variant | wall s | cpu s | vs direct (wall/cpu) | agrees with truth "
          "| agrees with full |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory(prefix="drift-bench-") as tmp:
        for rows in map(int, args.rows):
            reference = window(rows, 1, False, args.unmonitored)
            current = window(rows, 2, True, args.unmonitored)
            variants = args.only.split(",")
            runs = [[row for variant in variants
                     for row in measure(variant, reference, current, Path(tmp))]
                    for _ in range(args.repeat)]  # interleaved: drifting load hits all alike
            results = {}
            for name, verdicts, wall, cpu in fastest(runs):
                results[name] = (verdicts, wall, cpu)
                base = results.get("direct")
                ratio = (f"{wall / base[1]:.2f}x / {cpu / base[2]:.2f}x"
                         if base and name != "direct" else "")
                full = results.get("ours") or results.get("direct")
                versus_full = agreement(verdicts, full[0]) if full else "n/a"
                print(f"| {rows:.0e} | {name} | {wall:.1f} | {cpu:.1f} | {ratio} "
                      f"| {agreement(verdicts, truth)} | {versus_full} |", flush=True)


if __name__ == "__main__":
    main()
