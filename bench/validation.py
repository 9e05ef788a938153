"""Benchmark: ValidateDataOperator against direct GX, the published GX provider and pandas.

For each size (rows x 20 columns: an id, 6 more integer, 8 float and 5 string columns) and
for a passing batch and a batch that fails 4 of the suite's 20 expectations, every method
validates the same Parquet file in a fresh subprocess (so peak RSS is its own), timed from
just before the read to the end, after the libraries are imported:

- ``ours``: ``ValidateDataOperator.execute`` with a minimal context (a stand-in ``ti`` that
  keeps XComs; ``results_uri`` given, so no Airflow config or DB is read), called as the
  task runner calls it (ExecutorSafeguard tracker set, plugins loaded beforehand): read the
  file, BOOLEAN_ONLY for the row-level expectations, SUMMARY for the others and for the failed
  ones, the JSON and HTML reports written, the summary pushed;
- ``gx-summary`` / ``gx-boolean``: direct GX 1.x: ``pd.read_parquet``, an ephemeral context,
  a pandas data source, the suite from the same JSON, ``ValidationDefinition.run`` at SUMMARY
  (GX's default) or BOOLEAN_ONLY;
- ``provider``: the published ``GXValidateDataFrameOperator`` at its default result format
  (SUMMARY); its constructor calls ``configure_dataframe`` (here ``pd.read_parquet``), so
  construction is timed too, then ``execute`` with the same stand-in ``ti``;
- ``pandas``: the floor: the same 20 checks as vectorised pandas expressions, one pass.

With ``--warm`` every child first runs its method once on the batch's first 1,000 rows
(untimed, before the RSS baseline): what is left to measure is what the batch's size costs,
without the one-time set-up of the first validation in a process (lazy imports, GX's
expectation and metric registries, caches).

Each method is run ``--repeat`` times, interleaved (round r runs every method once), and the
best wall time is reported with its CPU time and the highest peak RSS over the rounds.
The failure details of ``ours``, ``gx-summary`` and ``provider`` are compared: the same
failed expectations with the same GX SUMMARY results (observed value, counts, examples).

    make bench                                              # 1e5 and 1e6 rows, 3 rounds
    .venv/bin/python bench/validation.py --sizes 1e5,1e6 --repeat 3
    .venv/bin/python bench/validation.py --sizes 1e7 --repeat 1
    .venv/bin/python bench/validation.py --sizes 1e5,1e6 --repeat 3 --warm
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

METHODS = ("ours", "gx-summary", "gx-boolean", "provider", "pandas")
DETAILED = ("ours", "gx-summary", "provider")
INTS = ("age", "tenure_months", "support_calls", "logins", "devices", "plan_version")
FLOATS = ("monthly_charges", "balance", "discount", "latency_ms", "z_score", "usage_gb",
          "rating", "nps")
LEVELS = {
    "contract": ("month-to-month", "one-year", "two-year"),
    "region": ("north", "south", "east", "west"),
    "channel": ("web", "store", "phone", "partner"),
    "segment": ("consumer", "small-business", "enterprise"),
    "payment": ("card", "transfer", "direct-debit", "voucher", "cash"),
}
COLUMNS = ("id", *INTS, *FLOATS, *LEVELS)
# Children cache bytecode here (outside the source trees), so imports cost what they cost in
# a deployed worker even where PYTHONDONTWRITEBYTECODE is set.
PYCACHE = Path(tempfile.gettempdir()) / "validation-bench-pycache"


# --- data and suite ----------------------------------------------------------------------


def suite() -> dict:
    """The 20-expectation GX 1.x suite, as an ExpectationSuite JSON document."""
    def between(column, low, high, kind="expect_column_values_to_be_between"):
        return {"type": kind, "kwargs": {"column": column, "min_value": low, "max_value": high}}

    def column(kind, name, **kwargs):
        return {"type": kind, "kwargs": {"column": name, **kwargs}}

    in_set = "expect_column_values_to_be_in_set"
    not_null = "expect_column_values_to_not_be_null"
    return {"name": "bench", "expectations": [
        {"type": "expect_table_columns_to_match_ordered_list",
         "kwargs": {"column_list": list(COLUMNS)}},
        {"type": "expect_table_row_count_to_be_between",
         "kwargs": {"min_value": 1, "max_value": 10**9}},
        column("expect_column_values_to_be_unique", "id"),
        column(not_null, "id"),
        between("age", 18, 100),
        between("tenure_months", 0, 120),
        between("support_calls", 0, 50),
        column(not_null, "logins"),
        between("monthly_charges", 0, 500),
        between("z_score", -10, 10),
        column(not_null, "discount", mostly=0.95),
        between("latency_ms", 90, 110, "expect_column_mean_to_be_between"),
        between("z_score", 0.9, 1.1, "expect_column_stdev_to_be_between"),
        between("usage_gb", 0, 1000, "expect_column_max_to_be_between"),
        column(in_set, "contract", value_set=list(LEVELS["contract"])),
        column(in_set, "region", value_set=list(LEVELS["region"])),
        column(in_set, "channel", value_set=list(LEVELS["channel"])),
        column(not_null, "segment"),
        column("expect_column_distinct_values_to_be_in_set", "payment",
               value_set=list(LEVELS["payment"])),
        between("segment", 1, 10, "expect_column_unique_value_count_to_be_between"),
    ]}


def make_batch(rows: int, seed: int, failing: bool):
    """A seeded synthetic batch; ``failing`` breaks 4 expectations on a few rows or a mean."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    data = {"id": np.arange(rows, dtype=np.int64)}
    highs = (101, 121, 51, 1000, 6, 4)
    lows = (18, 0, 0, 0, 1, 1)
    for name, low, high in zip(INTS, lows, highs, strict=True):
        data[name] = rng.integers(low, high, rows)
    data["monthly_charges"] = rng.uniform(0, 500, rows)
    data["balance"] = rng.normal(0, 1000, rows)
    data["discount"] = np.where(rng.random(rows) < 0.01, np.nan, rng.random(rows))
    data["latency_ms"] = rng.exponential(100, rows)
    for name in ("z_score", "rating", "nps"):
        data[name] = rng.normal(0, 1, rows)
    data["usage_gb"] = rng.uniform(0, 900, rows)
    for name, levels in LEVELS.items():  # shares a few str objects, as pyarrow's reader does
        data[name] = np.array(levels, dtype=object).take(rng.integers(0, len(levels), rows))
    if failing:
        _break(data, rng, rows)
    return pd.DataFrame(data, columns=list(COLUMNS))


def _break(data: dict, rng, rows: int) -> None:
    """Duplicate ids, out-of-range tenure, an unknown region and a shifted mean latency."""
    def some(count):
        return rng.choice(rows, size=min(count, rows), replace=False)

    data["id"][some(10)] = 7
    data["tenure_months"][some(max(rows // 1000, 5))] = 999
    data["region"][some(max(rows // 2000, 5))] = "unknown"
    data["latency_ms"] *= 1.5


def batch_bytes(frame) -> dict:
    """In-memory size: pandas' deep count, and arrays plus distinct strings (what is held).

    ``memory_usage(deep=True)`` counts a string object once per row even though the rows
    share a handful of objects; the second number counts each distinct string once.
    """
    deep = int(frame.memory_usage(deep=True, index=True).sum())
    held = int(frame.memory_usage(deep=False, index=True).sum())
    for name in frame.select_dtypes(include="object"):
        held += sum(sys.getsizeof(v) for v in frame[name].unique())
    return {"deep": deep, "held": held}


# --- the measured methods (each runs in its own subprocess) ------------------------------


class StubTaskInstance:
    """The part of a task instance both operators use: its ids and ``xcom_push``."""

    dag_id, run_id, task_id, map_index = "bench", "manual__bench", "validate", -1

    def __init__(self) -> None:
        self.xcom: dict = {}

    def xcom_push(self, key: str, value) -> None:
        """Keep the value, as the XCom backend would (after JSON serialisation)."""
        self.xcom[key] = json.loads(json.dumps(value))


def _run_operator(operator, context: dict, failure: type[BaseException]) -> None:
    """Call ``execute`` as the task runner does (inside the ExecutorSafeguard tracker)."""
    from airflow.sdk.bases.operator import ExecutorSafeguard

    token = ExecutorSafeguard.tracker.set(operator)
    try:
        operator.execute(context)
    except failure:
        pass  # the failing batch: both operators push their result, then raise
    finally:
        ExecutorSafeguard.tracker.reset(token)


def run_ours(data: Path, suite_path: Path, work: Path) -> dict:
    """ValidateDataOperator.execute; the details are read back from its JSON report."""
    from airflow.sdk.exceptions import AirflowFailException

    from airflow_mlops.operators.validation import ValidateDataOperator

    results = work / "ours-results"
    ti = StubTaskInstance()
    operator = ValidateDataOperator(task_id="validate", data_uri=str(data),
                                    suite=str(suite_path), results_uri=str(results))
    _run_operator(operator, {"ti": ti}, AirflowFailException)
    return {"xcom": ti.xcom, "results": results / "validation_result.json"}


def _gx_suite(suite_path: Path):
    """The suite file as a GX ExpectationSuite object."""
    import great_expectations as gx

    raw = json.loads(suite_path.read_text())
    return gx.ExpectationSuite(name=raw["name"], expectations=raw["expectations"])


def run_gx(data: Path, suite_path: Path, result_format: str) -> dict:
    """Direct GX: ephemeral context, pandas data source, ValidationDefinition.run."""
    import great_expectations as gx
    import pandas as pd
    from great_expectations.data_context.types.base import ProgressBarsConfig

    frame = pd.read_parquet(data)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch = (context.data_sources.add_pandas("bench").add_dataframe_asset("batch")
             .add_batch_definition_whole_dataframe("whole"))
    expectations = context.suites.add(_gx_suite(suite_path))
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name="bench", data=batch, suite=expectations))
    result = definition.run(batch_parameters={"dataframe": frame}, result_format=result_format)
    return {"results": result.to_json_dict()["results"]}


def run_provider(data: Path, suite_path: Path) -> dict:
    """GXValidateDataFrameOperator at its default result format, constructed and executed."""
    import pandas as pd
    from great_expectations_provider.common.errors import GXValidationFailed
    from great_expectations_provider.operators.validate_dataframe import (
        GXValidateDataFrameOperator,
    )

    ti = StubTaskInstance()
    operator = GXValidateDataFrameOperator(
        task_id="validate",
        configure_dataframe=lambda: pd.read_parquet(data),
        configure_expectations=lambda context: _gx_suite(suite_path),
    )
    _run_operator(operator, {"ti": ti}, GXValidationFailed)
    return {"describe": ti.xcom["return_value"]}


def _values_check(frame, kwargs, unexpected) -> dict:
    """Map-style result: unexpected non-null values, with GX's ``mostly`` rule."""
    values = frame[kwargs["column"]]
    present = values.notna()
    bad = int((unexpected(values) & present).sum())
    total = int(present.sum())
    ratio = 1.0 - bad / total if total else 1.0
    return {"success": ratio >= kwargs.get("mostly", 1.0), "unexpected_count": bad}


def _aggregate_check(value, kwargs) -> dict:
    """Aggregate-style result: the observed value within [min_value, max_value]."""
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    ok = (low is None or value >= low) and (high is None or value <= high)
    return {"success": bool(ok), "observed_value": value}


def _pandas_check(frame, kind: str, kwargs: dict) -> dict:
    """One expectation of the suite, as vectorised pandas."""
    column = kwargs.get("column")
    if kind == "expect_column_values_to_not_be_null":
        values = frame[column]
        bad = int(values.isna().sum())
        return {"success": 1.0 - bad / len(values) >= kwargs.get("mostly", 1.0),
                "unexpected_count": bad}
    if kind == "expect_column_values_to_be_between":
        low, high = kwargs["min_value"], kwargs["max_value"]
        return _values_check(frame, kwargs, lambda v: (v < low) | (v > high))
    if kind == "expect_column_values_to_be_in_set":
        return _values_check(frame, kwargs, lambda v: ~v.isin(kwargs["value_set"]))
    if kind == "expect_column_values_to_be_unique":
        return _values_check(frame, kwargs, lambda v: v.duplicated(keep=False))
    aggregates = {
        "expect_column_mean_to_be_between": lambda v: float(v.mean()),
        "expect_column_stdev_to_be_between": lambda v: float(v.std()),
        "expect_column_max_to_be_between": lambda v: float(v.max()),
        "expect_column_unique_value_count_to_be_between": lambda v: int(v.nunique()),
    }
    if kind in aggregates:
        return _aggregate_check(aggregates[kind](frame[column]), kwargs)
    if kind == "expect_column_distinct_values_to_be_in_set":
        seen = set(frame[column].dropna().unique())
        return {"success": seen <= set(kwargs["value_set"]), "observed_value": sorted(seen)}
    if kind == "expect_table_row_count_to_be_between":
        return _aggregate_check(len(frame.index), kwargs)
    if kind == "expect_table_columns_to_match_ordered_list":
        observed = list(map(str, frame.columns))
        return {"success": observed == kwargs["column_list"], "observed_value": observed}
    raise ValueError(f"the pandas floor does not implement {kind}")


def run_pandas(data: Path, suite_path: Path) -> dict:
    """The floor: read the file, then every check of the suite as one vectorised expression."""
    import pandas as pd

    frame = pd.read_parquet(data)
    raw = json.loads(suite_path.read_text())
    return {"checks": [{"type": e["type"], "kwargs": e["kwargs"],
                        **_pandas_check(frame, e["type"], e["kwargs"])}
                       for e in raw["expectations"]]}


def _prepare(method: str):
    """Import what ``method`` needs (not timed) and return the function to time."""
    import logging

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    import pandas  # noqa: F401
    import pyarrow.parquet  # noqa: F401

    if method == "pandas":
        return lambda data, suite_path, work: run_pandas(data, suite_path)
    import great_expectations  # noqa: F401
    from airflow.sdk.listener import get_listener_manager

    get_listener_manager()  # the task runner does this before execute: it loads the plugins

    if method == "ours":
        import airflow_mlops.core.reports  # noqa: F401
        import airflow_mlops.core.validation  # noqa: F401
        import airflow_mlops.operators.validation  # noqa: F401
        return run_ours
    if method == "provider":
        import great_expectations_provider.operators.validate_dataframe  # noqa: F401
        return lambda data, suite_path, work: run_provider(data, suite_path)
    fmt = {"gx-summary": "SUMMARY", "gx-boolean": "BOOLEAN_ONLY"}[method]
    return lambda data, suite_path, work: run_gx(data, suite_path, fmt)


def current_rss() -> int:
    """This process's resident set size now, in bytes (Linux)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


WARM_ROWS = 1000


def warm_up(function, data: Path, suite_path: Path, work: Path) -> None:
    """Run ``function`` once on the first :data:`WARM_ROWS` rows of ``data``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    head = work / "warm" / "head.parquet"
    head.parent.mkdir(parents=True)
    first = next(pq.ParquetFile(data).iter_batches(batch_size=WARM_ROWS))
    pq.write_table(pa.Table.from_batches([first]), head)
    function(head, suite_path, head.parent)


def child(method: str, data: Path, suite_path: Path, work: Path, out: Path,
          warm: bool = False) -> None:
    """Run one method once and write its timings, peak RSS and result to ``out``."""
    function = _prepare(method)
    if warm:
        warm_up(function, data, suite_path, work)
    baseline = current_rss()
    wall, cpu = time.perf_counter(), time.process_time()
    produced = function(data, suite_path, work)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    if "results" in produced and isinstance(produced["results"], Path):  # ours: the report
        produced["results"] = json.loads(produced["results"].read_text())["results"]
    record = {"wall": wall, "cpu": cpu, "peak_rss": peak, "baseline_rss": baseline,
              "produced": produced}
    out.write_text(json.dumps(record, default=str))


def generate(rows: int, failing: bool, path: Path, out: Path) -> None:
    """Write the batch as Parquet and its in-memory size to ``out`` (run as a subprocess)."""
    frame = make_batch(rows, seed=rows + 1, failing=failing)
    frame.to_parquet(path, index=False)
    out.write_text(json.dumps(batch_bytes(frame)))


# --- comparing results -------------------------------------------------------------------


def _numbers_as_floats(value):
    """``value`` with every int a float: GX stores ``min_value: 0`` as ``0.0``."""
    if isinstance(value, dict):
        return {k: _numbers_as_floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers_as_floats(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _key(kind: str, kwargs: dict) -> str:
    """An expectation's identity: its type and kwargs, less GX's batch_id."""
    kwargs = {k: v for k, v in kwargs.items() if k != "batch_id"}
    return json.dumps([kind, _numbers_as_floats(kwargs)], sort_keys=True)


def outcomes(method: str, produced: dict) -> dict[str, tuple[bool, dict]]:
    """Per expectation: passed, and the GX result details (the check's result for pandas)."""
    if method == "pandas":
        return {_key(c["type"], c["kwargs"]): (c["success"], c) for c in produced["checks"]}
    if method == "provider":
        return {_key(r["expectation_type"], r["kwargs"]): (r["success"], r["result"])
                for r in produced["describe"]["expectations"]}
    return {_key(r["expectation_config"]["type"], r["expectation_config"]["kwargs"]):
            (r["success"], r["result"]) for r in produced["results"]}


def _normal(value):
    """JSON round trip, so numpy scalars and tuples compare like the reports' JSON."""
    return json.loads(json.dumps(value, default=str))


def compare_details(produced: dict[str, dict]) -> list[str]:
    """Lines saying whether every method failed the same expectations with the same details."""
    lines = []
    reference = outcomes("gx-summary", produced["gx-summary"])
    failed = sorted(k for k, (ok, _) in reference.items() if not ok)
    lines.append(f"gx-summary failed {len(failed)} of {len(reference)}: "
                 + "; ".join(" ".join(map(str, json.loads(k)[:1] + [json.loads(k)[1].get(
                     "column", "table")])) for k in failed))
    for method, result in produced.items():
        if method == "gx-summary":
            continue
        mine = outcomes(method, result)
        differ = sorted({k for k, (ok, _) in mine.items() if not ok} ^ set(failed))
        line = f"{method}: same failed expectations: {'NO ' + str(differ) if differ else 'yes'}"
        if method in DETAILED and failed:
            same = [_normal(mine[k][1]) == _normal(reference[k][1]) for k in failed if k in mine]
            line += (f"; identical SUMMARY details (observed value, counts, examples): "
                     f"{sum(same)}/{len(failed)}")
        lines.append(line)
    return lines


def example_details(produced: dict) -> list[str]:
    """Our failures as the operator reports them (its XCom summary)."""
    summary = produced["ours"]["xcom"].get("return_value") or {}
    return [f"  {f['column'] or 'table'}: {f['expectation']}: observed "
            f"{f['observed_value']!r}, {f['unexpected_percent']}% unexpected, examples "
            f"{f['examples']}" for f in summary.get("failures", [])]


# --- the parent: running and reporting ---------------------------------------------------


def spawn(argv: list[str], log: Path) -> tuple[bool, str]:
    """Run this script with ``argv`` in a fresh interpreter; (ok, last error line)."""
    env = {**os.environ, "PYTHONHASHSEED": "0", "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
           "PYTHONPYCACHEPREFIX": str(PYCACHE)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # else every child compiles every module again
    with log.open("w") as stderr:
        code = subprocess.call([sys.executable, __file__, *argv], stdout=stderr,
                               stderr=stderr, env=env)
    if code == 0:
        return True, ""
    tail = (log.read_text().strip().splitlines() or [""])[-1]
    return False, f"exit {code}: {tail[:200]}"


def measure(method: str, data: Path, suite_path: Path, work: Path, warm: bool) -> dict:
    """One run of ``method`` in a subprocess: its record, or the error it ended with."""
    out = work / f"{method}.json"
    folder = work / method
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    ok, error = spawn(["--child", method, "--data", str(data), "--suite", str(suite_path),
                       "--work", str(folder), "--out", str(out)] + ["--warm"] * warm,
                      work / f"{method}.log")
    return json.loads(out.read_text()) if ok else {"error": error}


def best(runs: list[dict]) -> dict:
    """The fastest run, with the highest peak RSS over all runs and the run count."""
    good = [r for r in runs if "error" not in r]
    if not good:
        return runs[-1]
    fastest = min(good, key=lambda r: r["wall"])
    return {**fastest, "peak_rss": max(r["peak_rss"] for r in good),
            "walls": [round(r["wall"], 2) for r in good]}


def mib(value: int) -> str:
    """Bytes as MiB, no decimals."""
    return f"{value / 2**20:,.0f}"


def row(rows: int, batch: str, method: str, record: dict, size: dict, ours: dict) -> str:
    """One markdown table row."""
    if "error" in record:
        return f"| {rows:.0e} | {batch} | {method} | {record['error']} ||||||||"
    wall = record["wall"]
    ratio = f"{wall / ours['wall']:.2f}" if "wall" in ours else "n/a"
    return (f"| {rows:.0e} | {batch} | {method} | {wall:.2f} | {record['cpu']:.2f} "
            f"| {rows / wall:,.0f} | {mib(record['peak_rss'])} "
            f"| {mib(record['peak_rss'] - record['baseline_rss'])} "
            f"| {record['peak_rss'] / size['held']:.1f} / {record['peak_rss'] / size['deep']:.1f} "
            f"| {(record['peak_rss'] - record['baseline_rss']) / size['held']:.1f} "
            f"| {ratio} "
            f"| {', '.join(map(str, record['walls']))} |")


def ratio_line(rows: int, batch: str, results: dict) -> str:
    """Ours over each GX method, on wall time (and CPU time)."""
    ours = results["ours"]
    parts = []
    for other in ("gx-summary", "gx-boolean", "provider", "pandas"):
        base = results.get(other, {})
        if "wall" in ours and "wall" in base:
            parts.append(f"ours/{other} {ours['wall'] / base['wall']:.2f}x wall, "
                         f"{ours['cpu'] / base['cpu']:.2f}x cpu")
    return f"{rows:.0e} {batch}: " + "; ".join(parts)


HEADER = ("| rows | batch | method | best wall s | cpu s | rows/s | peak RSS MiB "
          "| RSS growth MiB | peak RSS / batch (held / deep) | growth / held | wall / ours "
          "| all walls s |\n"
          "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")


def run_size(rows: int, methods: list[str], repeat: int, work: Path, suite_path: Path,
             warm: bool) -> dict:
    """Every method on the passing and the failing batch; returns report lines."""
    lines, ratios, checks = [], [], []
    for batch in ("pass", "fail"):
        data = work / f"{batch}-{rows}.parquet"
        ok, error = spawn(["--generate", str(rows), "--batch", batch, "--data", str(data),
                           "--out", str(work / "size.json")], work / "generate.log")
        if not ok:
            lines.append(f"| {rows:.0e} | {batch} | (generate) | {error} ||||||||")
            continue
        size = json.loads((work / "size.json").read_text())
        runs: dict[str, list[dict]] = {m: [] for m in methods}
        for _ in range(repeat):
            for method in methods:
                runs[method].append(measure(method, data, suite_path, work, warm))
        results = {m: best(r) for m, r in runs.items()}
        lines += [row(rows, batch, m, results[m], size, results.get("ours", {}))
                  for m in methods]
        print("\n".join(lines[-len(methods):]), flush=True)
        checks.append(f"{rows:.0e} {batch} batch: {mib(size['deep'])} MiB deep "
                      f"(memory_usage(deep=True)), {mib(size['held'])} MiB held")
        checks += detail_check(rows, batch, results)
        if "ours" in results:
            ratios.append(ratio_line(rows, batch, results))
        data.unlink()
    return {"rows": lines, "ratios": ratios, "checks": checks}


def detail_check(rows: int, batch: str, results: dict) -> list[str]:
    """The failure-detail comparison for one batch, when the methods it needs ran."""
    produced = {m: r["produced"] for m, r in results.items() if "produced" in r}
    if "gx-summary" not in produced:
        return [f"{rows:.0e} {batch}: no detail check (gx-summary did not run)"]
    lines = [f"{rows:.0e} {batch}: {line}" for line in compare_details(produced)]
    if batch == "fail" and "ours" in produced:
        lines += example_details(produced)
    return lines


def versions() -> str:
    """Python and the packages that matter, for the report."""
    from importlib.metadata import version

    names = ("apache-airflow", "great-expectations", "airflow-provider-great-expectations",
             "pandas", "numpy", "pyarrow")
    found = []
    for name in names:
        try:
            found.append(f"{name} {version(name)}")
        except Exception:  # not installed: say so
            found.append(f"{name} (not installed)")
    return f"Python {platform.python_version()}; " + ", ".join(found)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options (``--child``/``--generate`` are for the subprocesses)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1e5,1e6", help="comma-separated row counts")
    parser.add_argument("--repeat", type=int, default=3, help="rounds per size (best of N)")
    parser.add_argument("--methods", default=",".join(METHODS),
                        help=f"comma-separated subset of {', '.join(METHODS)}")
    parser.add_argument("--warm", action="store_true",
                        help="each method first validates 1,000 rows, untimed")
    parser.add_argument("--child", choices=METHODS, help=argparse.SUPPRESS)
    parser.add_argument("--generate", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--batch", choices=("pass", "fail"), help=argparse.SUPPRESS)
    for name in ("--data", "--suite", "--work", "--out"):
        parser.add_argument(name, type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.child:
        return child(args.child, args.data, args.suite, args.work, args.out, args.warm)
    if args.generate:
        return generate(int(args.generate), args.batch == "fail", args.data, args.out)
    methods = args.methods.split(",")
    print(f"# {time.strftime('%Y-%m-%d %H:%M %Z')}; {platform.platform()}; "
          f"{os.cpu_count()} cores; {versions()}" + ("; warm" if args.warm else ""))
    print(HEADER, flush=True)
    report = {"rows": [], "ratios": [], "checks": []}
    with tempfile.TemporaryDirectory(prefix="validation-bench-") as tmp:
        work = Path(tmp)
        suite_path = work / "bench_suite.json"
        suite_path.write_text(json.dumps(suite(), indent=1))
        for rows in (int(float(s)) for s in args.sizes.split(",")):
            for key, lines in run_size(rows, methods, args.repeat, work, suite_path,
                                       args.warm).items():
                report[key] += lines
    print("\nRatios (best wall and its CPU time):\n" + "\n".join(report["ratios"]))
    print("\nFailure details:\n" + "\n".join(report["checks"]))


if __name__ == "__main__":
    main()
