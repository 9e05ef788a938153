"""Benchmark: validating a PostgreSQL table in the database, by extraction, and by the GX provider.

For each size, a churn-like table of that many rows x 20 columns (bench/validation.py's
columns, made in SQL with ``generate_series``; it breaks 4 of the suite's 20 expectations:
duplicate ids, out-of-range tenures, an unknown region and a shifted mean latency) is
validated against bench/validation.py's 20-expectation suite, each method in a fresh
subprocess so its peak RSS is its own:

- ``in-database``: ``ValidateDataOperator(table=...)``: GX SQL execution on the table, the
  rows stay in PostgreSQL; reports written, summary pushed;
- ``partition``: the same, on a partition chosen by a WHERE clause (one that keeps every
  row, so the details compare): GX runs it as a query;
- ``extraction``: ``ValidateDataOperator(sql="SELECT * FROM ...")``: the whole result read
  into pandas through the connection's hook, then validated (the path before in-database
  validation);
- ``file``: the file path on the same rows: the table landed once as Parquet by
  ``land_rows`` (what ``data_query`` does: streamed in chunks; the landing is timed in the
  parent, not part of the method's figures), then ``ValidateDataOperator(data_uri=...)``;
- ``provider``: the published ``GXValidateBatchOperator`` on a GX PostgreSQL table asset at
  its default result format (SUMMARY).

Reported per method: wall time (from just before ``execute`` to its end, after imports),
the client's CPU time, the database's time (wall minus client CPU: what the worker spent
waiting; pg_stat_statements is not loaded on this server) and the worker's peak RSS. The
failure details of every method of ours are compared with the file path's (``file``, else
``extraction``): per expectation, its success and each of GX's result values the reference
reports (observed value, element, missing and unexpected counts, unexpected percent, partial
unexpected list and counts), and the summary's failures (observed value, unexpected percent,
examples).

With ``--memory-cap 17G``, each child runs in a cgroup v1 memory cgroup capped there, without
swap (bench/memory_cap.py; needs root): a method that outgrows the cap is OOM-killed alone,
never the database or anything else, and is reported as killed after so many seconds. The
cgroup's peak usage (RSS and page cache), refused allocations and OOM kills are reported.

With ``--passes``, one SUMMARY pass (what in-database validation runs) is also timed
against two passes (BOOLEAN_ONLY, then SUMMARY for the failed row-level expectations) on
each table, in the parent process.

    flock /tmp/heavy.lock .venv/bin/python bench/warehouse.py --sizes 1e6,1e7
    flock /tmp/heavy.lock .venv/bin/python bench/warehouse.py --sizes 1e7 --memory-cap 17G
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from contextlib import nullcontext
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from memory_cap import MemoryCap  # noqa: E402
from validation import (  # noqa: E402  (bench/validation.py: columns, suite, helpers)
    INTS,
    LEVELS,
    PYCACHE,
    StubTaskInstance,
    _gx_suite,
    _run_operator,
    current_rss,
    suite,
)

METHODS = ("in-database", "partition", "extraction", "file", "provider")
DETAIL_KEYS = ("observed_value", "element_count", "missing_count", "unexpected_count",
               "unexpected_percent", "partial_unexpected_list", "partial_unexpected_counts")
PARTITION = "id >= 0"  # every row: a partition as GX sees it, with the table's details
CONN_ID = "bench_warehouse"
SERVER = os.environ.get("BENCH_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432")
DATABASE = "mlops_wh_bench"


# --- the table ---------------------------------------------------------------------------


def _levels(name: str, broken_every: int | None = None) -> str:
    levels = ", ".join(f"'{v}'" for v in LEVELS[name])
    pick = f"(ARRAY[{levels}])[1 + floor(random() * {len(LEVELS[name])})::int]"
    if broken_every:
        pick = f"CASE WHEN i % {broken_every} = 0 THEN 'unknown' ELSE {pick} END"
    return f"{pick} AS {name}"


def load_sql(table: str, rows: int) -> str:
    """SQL creating ``table``: bench/validation.py's failing batch, made by PostgreSQL."""
    normal = "sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())"
    highs = dict(zip(INTS, (101, 121, 51, 1000, 6, 4), strict=True))
    lows = dict(zip(INTS, (18, 0, 0, 0, 1, 1), strict=True))
    ints = [f"({lows[n]} + floor(random() * {highs[n] - lows[n]}))::bigint AS {n}"
            for n in INTS if n != "tenure_months"]
    tenure = "CASE WHEN i % 1000 = 0 THEN 999 ELSE floor(random() * 121) END::bigint"
    ints.insert(1, f"{tenure} AS tenure_months")
    columns = [
        f"CASE WHEN i % {rows // 10} = 1 THEN 7 ELSE i END::bigint AS id", *ints,
        "random() * 500 AS monthly_charges", f"1000 * {normal} AS balance",
        "CASE WHEN random() < 0.01 THEN NULL ELSE random() END AS discount",
        "-150 * ln(1 - random()) AS latency_ms", f"{normal} AS z_score",
        "random() * 900 AS usage_gb", f"{normal} AS rating", f"{normal} AS nps",
        *(_levels(n, 2000 if n == "region" else None) for n in LEVELS),
    ]
    return (f"CREATE TABLE {table} AS SELECT {', '.join(columns)} "
            f"FROM generate_series(0, {rows - 1}) AS i")


def ensure_table(rows: int) -> str:
    """The table of ``rows`` rows, made once and reused while its row count matches."""
    import sqlalchemy as sa

    table = f"churn_{rows}"
    server = sa.create_engine(f"{SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        if not connection.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :d"),
                                  {"d": DATABASE}).first():
            connection.execute(sa.text(f"CREATE DATABASE {DATABASE}"))
    engine = sa.create_engine(f"{SERVER}/{DATABASE}", isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        exists = connection.execute(sa.text("SELECT to_regclass(:t)"), {"t": table}).scalar()
        if exists and connection.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar() \
                == rows:
            return table
        started = time.perf_counter()
        connection.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
        connection.execute(sa.text("SET max_parallel_workers_per_gather = 0"))
        connection.execute(sa.text("SELECT setseed(0.42)"))
        connection.execute(sa.text(load_sql(table, rows)))
        # The first scan of new rows sets their hint bits (writing every page): the load's
        # cost, not the first method's.
        connection.execute(sa.text(f"VACUUM (ANALYZE) {table}"))
        print(f"loaded {table} in {time.perf_counter() - started:.0f} s", flush=True)
    return table


def ensure_parquet(table: str, work: Path) -> Path:
    """The table's rows landed as Parquet (streamed, as ``data_query`` lands them), once."""
    import pyarrow.parquet as pq

    from airflow_mlops.core.sql_extract import land_rows
    from airflow_mlops.core.sql_sources import SqlSource

    path = work / f"{table}.parquet"
    rows = int(table.rsplit("_", 1)[1])
    if path.exists() and pq.ParquetFile(path).metadata.num_rows == rows:
        return path
    started = time.perf_counter()
    land_rows(SqlSource.on_url(f"{SERVER}/{DATABASE}", table=f"public.{table}"), path)
    print(f"landed {table} as {path} ({path.stat().st_size / 2**20:,.0f} MiB) in "
          f"{time.perf_counter() - started:.0f} s", flush=True)
    return path


# --- the measured methods (each in its own subprocess) -----------------------------------


def run_ours(table: str, suite_path: Path, work: Path, method: str) -> dict:
    from airflow.sdk.exceptions import AirflowFailException

    from airflow_mlops.operators.validation import ValidateDataOperator

    rows = {"in-database": {"table": f"public.{table}", "conn_id": CONN_ID},
            "partition": {"table": f"public.{table}", "where": PARTITION, "conn_id": CONN_ID},
            "extraction": {"sql": f"SELECT * FROM {table}", "conn_id": CONN_ID},
            "file": {"data_uri": str(work.parent / f"{table}.parquet")}}[method]
    results, ti = work / "results", StubTaskInstance()
    operator = ValidateDataOperator(task_id="validate", suite=str(suite_path),
                                    results_uri=str(results), **rows)
    _run_operator(operator, {"ti": ti}, AirflowFailException)
    report = json.loads((results / "validation_result.json").read_text())
    return {"xcom": ti.xcom, "results": report["results"]}


def run_provider(table: str, suite_path: Path, work: Path) -> dict:
    from great_expectations_provider.common.errors import GXValidationFailed
    from great_expectations_provider.operators.validate_batch import GXValidateBatchOperator

    def batch_definition(context):
        source = context.data_sources.add_postgres("warehouse",
                                                   connection_string=f"{SERVER}/{DATABASE}")
        asset = source.add_table_asset("churn", table_name=table)
        return asset.add_batch_definition_whole_table("whole")

    ti = StubTaskInstance()
    operator = GXValidateBatchOperator(
        task_id="validate", configure_batch_definition=batch_definition,
        configure_expectations=lambda context: _gx_suite(suite_path),
    )
    _run_operator(operator, {"ti": ti, "params": {}}, GXValidationFailed)
    return {"describe": ti.xcom["return_value"]}


def child(method: str, table: str, suite_path: Path, work: Path, out: Path) -> None:
    """Run one method once; write its timings, peak RSS and result to ``out``."""
    import great_expectations  # noqa: F401  (imports are not what is measured)

    import airflow_mlops.operators.validation  # noqa: F401

    if method == "provider":
        import great_expectations_provider.operators.validate_batch  # noqa: F401
    baseline = current_rss()
    out.write_text(json.dumps({"started": time.time()}))  # how long a killed run had lasted
    wall, cpu = time.perf_counter(), time.process_time()
    if method == "provider":
        produced = run_provider(table, suite_path, work)
    else:
        produced = run_ours(table, suite_path, work, method)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    out.write_text(json.dumps({"wall": wall, "cpu": cpu, "peak_rss": peak,
                               "baseline_rss": baseline, "produced": produced}, default=str))


def compare_passes(table: str) -> list[str]:
    """Time one SUMMARY pass against two (BOOLEAN_ONLY, then SUMMARY for what failed), in
    this process, on the table and on a partition; count the statements each runs."""
    import sqlalchemy as sa

    from airflow_mlops.core.sql_sources import SqlSource
    from airflow_mlops.core.sql_validation import _validator
    from airflow_mlops.core.validation import _evaluate, _parse_suite, evaluate_in_one_pass

    bench_suite = _parse_suite(suite(), "bench", "bench")
    statements: list[str] = []

    def count(*args) -> None:
        statements.append(args[2])

    passes = {"one pass": lambda v: evaluate_in_one_pass(v, bench_suite, table),
              "two passes": lambda v: _evaluate(None, bench_suite, table, validator=v)}
    lines = []
    sa.event.listen(sa.engine.Engine, "after_cursor_execute", count)
    for where in (None, PARTITION):
        source = SqlSource.on_url(f"{SERVER}/{DATABASE}", table=f"public.{table}", where=where)
        for name, evaluate in passes.items():
            validator = _validator(source)
            statements.clear()
            wall = time.perf_counter()
            results = evaluate(validator)
            lines.append(f"{'partition' if where else 'table':<10} {name:<11} "
                         f"{time.perf_counter() - wall:>6.1f} s {len(statements):>4} statements "
                         f"{sum(not r['success'] for r in results)} failed")
    sa.event.remove(sa.engine.Engine, "after_cursor_execute", count)
    return lines


# --- the parent --------------------------------------------------------------------------


def measure(method: str, table: str, suite_path: Path, work: Path,
            cap: MemoryCap | None = None) -> dict:
    out, folder = work / f"{method}-{table}.json", work / f"{method}-{table}"
    folder.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    env = {**os.environ, "PYTHONHASHSEED": "0", "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
           "PYTHONPYCACHEPREFIX": str(PYCACHE),
           f"AIRFLOW_CONN_{CONN_ID.upper()}": f"postgres://postgres@127.0.0.1:5432/{DATABASE}"}
    log = work / f"{method}-{table}.log"
    command = [sys.executable, __file__, "--child", method, "--table", table,
               "--suite", str(suite_path), "--work", str(folder), "--out", str(out)]
    if cap is not None:
        cap.reset()
        command = cap.wrap(command)
    with log.open("w") as stderr:
        code = subprocess.call(command, stdout=stderr, stderr=stderr, env=env)
    ended = time.time()
    record = json.loads(out.read_text()) if out.exists() else {}
    if cap is not None:
        record["cgroup"] = cap.usage()
    if code:
        tail = (log.read_text().strip().splitlines() or [""])[-1]
        record["error"] = f"killed by signal {-code}" if code < 0 else \
            f"exit {code}: {tail[:200]}"
        if "started" in record:
            record["error"] += f" (after {ended - record['started']:.0f} s of execute)"
    return record


def failures(record: dict) -> list[dict]:
    """Our summary's failed expectations (column, type, observed, percent, examples)."""
    summary = record["produced"]["xcom"].get("return_value") or {}
    return [{k: f[k] for k in ("column", "expectation", "observed_value",
                               "unexpected_percent", "examples")}
            for f in summary.get("failures", [])]


def details(record: dict) -> list[dict]:
    """Per expectation, in suite order: its type, column, success and GX's result values."""
    rows = []
    for result in record["produced"]["results"]:
        config, values = result["expectation_config"], result.get("result") or {}
        rows.append({"expectation": config["type"], "column": config["kwargs"].get("column"),
                     "success": result["success"],
                     **{key: values[key] for key in DETAIL_KEYS if key in values}})
    return rows


def differences(reference: list[dict], other: list[dict]) -> tuple[int, list[str]]:
    """How many of the reference's values were compared, and those ``other`` differs in."""
    compared, differ = 0, []
    if len(reference) != len(other):
        return 0, [f"{len(other)} results against {len(reference)}"]
    for position, (ref, oth) in enumerate(zip(reference, other, strict=True)):
        for key, value in ref.items():
            compared += 1
            if key not in oth or not same(value, oth[key]):
                differ.append(f"#{position} {ref['expectation']} {ref['column']} {key}: "
                              f"{value!r} against {oth.get(key, 'missing')!r}")
    return compared, differ


def same(left, right) -> bool:
    """Equal, floats to 1e-9 relative (a database sums in another order than numpy)."""
    import math

    if isinstance(left, float) and isinstance(right, float):
        return math.isclose(left, right, rel_tol=1e-9)
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(same(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(same, left, right))
    return left == right


def provider_failed(record: dict) -> list[str]:
    return sorted(f"{e['expectation_type']} {e['kwargs'].get('column', 'table')}"
                  for e in record["produced"]["describe"]["expectations"] if not e["success"])


def _cgroup(record: dict) -> str:
    usage = record.get("cgroup")
    if not usage:
        return ""
    return (f"  cgroup: peak {usage['peak'] / 2**20:,.0f} of {usage['cap'] / 2**20:,.0f} MiB, "
            f"failcnt {usage['failcnt']}, OOM kills {usage['oom_kills']}")


def compare_details(results: dict) -> list[str]:
    """Every method of ours against the file path (``file``, else ``extraction``)."""
    ok = [m for m, r in results.items() if "error" not in r and m != "provider"]
    reference = next((m for m in ("file", "extraction") if m in ok), None)
    if reference is None:
        return ["failure details not compared: neither file nor extraction finished"]
    lines = []
    for method in (m for m in ok if m != reference):
        compared, differ = differences(details(results[reference]), details(results[method]))
        summary = same(failures(results[method]), failures(results[reference]))
        lines.append(f"{method} vs {reference}: per-expectation details ({compared} values "
                     f"the {reference} path reports; floats to 1e-9) "
                     f"{'the same' if not differ else f'{len(differ)} differ'}; summary "
                     f"failures (observed, unexpected %, examples) "
                     f"{'the same' if summary else 'DIFFER'}")
        lines += [f"  {d}" for d in differ]
        if not summary:
            lines += [f"  {method}: {f}" for f in failures(results[method])]
    return lines + [f"  {reference}: {f}" for f in failures(results[reference])]


def report(rows: int, results: dict) -> list[str]:
    lines = [f"\n{rows:.0e} rows x 20 columns, 20 expectations (4 fail):",
             f"{'method':<12} {'wall s':>8} {'client CPU s':>13} {'DB s':>7} "
             f"{'peak RSS MiB':>13} {'RSS after imports':>18}"]
    for method, record in results.items():
        if "error" in record:
            lines.append(f"{method:<12} {record['error']}{_cgroup(record)}")
            continue
        lines.append(f"{method:<12} {record['wall']:>8.1f} {record['cpu']:>13.1f} "
                     f"{max(record['wall'] - record['cpu'], 0):>7.1f} "
                     f"{record['peak_rss'] / 2**20:>13.0f} "
                     f"{record['baseline_rss'] / 2**20:>18.0f}{_cgroup(record)}")
    ok = {m: r for m, r in results.items() if "error" not in r}
    for base in (m for m in ("in-database", "partition") if m in ok):
        for other in (m for m in ("extraction", "file", "provider") if m in ok):
            lines.append(f"{other} / {base}: wall {ok[other]['wall'] / ok[base]['wall']:.2f}x, "
                         f"peak RSS {ok[other]['peak_rss'] / ok[base]['peak_rss']:.2f}x")
    lines += compare_details(results)
    if "error" not in results.get("provider", {"error": 1}):
        lines.append(f"provider failed: {'; '.join(provider_failed(results['provider']))}")
    return lines


def stamp() -> str:
    """The UTC time and the load average, for the record."""
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    return f"{time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}, load average {load}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1e6,1e7")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--work", type=Path, default=Path("/tmp/warehouse-bench"))
    parser.add_argument("--child")
    parser.add_argument("--table")
    parser.add_argument("--suite", type=Path)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--passes", action="store_true",
                        help="also time one SUMMARY pass against two, in this process")
    parser.add_argument("--memory-cap", metavar="SIZE",
                        help="run each method in a cgroup v1 memory cgroup capped at SIZE "
                             "(17G, say; needs root): only it can be OOM-killed")
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.table, args.suite, args.work, args.out)
        return
    args.work.mkdir(parents=True, exist_ok=True)
    suite_path = args.work / "suite.json"
    suite_path.write_text(json.dumps(suite()))
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, PostgreSQL at {SERVER}", flush=True)
    methods = args.methods.split(",")
    peaks = {}
    with MemoryCap(args.memory_cap) if args.memory_cap else nullcontext() as cap:
        for size in args.sizes.split(","):
            rows = int(float(size))
            table = ensure_table(rows)
            if "file" in methods:
                ensure_parquet(table, args.work)
            print(f"{rows:.0e} rows: {stamp()}", flush=True)
            results = {m: measure(m, table, suite_path, args.work, cap) for m in methods}
            print("\n".join(report(rows, results)), flush=True)
            print(f"done: {stamp()}", flush=True)
            if args.passes:
                print("\n".join(compare_passes(table)), flush=True)
            peaks[rows] = {m: r.get("peak_rss") for m, r in results.items()}
    sizes = sorted(peaks)
    for method in ("in-database", "partition"):
        if len(sizes) > 1 and peaks[sizes[0]].get(method) and peaks[sizes[-1]].get(method):
            ratio = peaks[sizes[-1]][method] / peaks[sizes[0]][method]
            print(f"{method} peak RSS at {sizes[-1]:.0e} / at {sizes[0]:.0e}: {ratio:.2f}x")

if __name__ == "__main__":
    main()
