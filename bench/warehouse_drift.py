"""Benchmark: drift on a PostgreSQL table, its window sampled in the database.

For each size, bench/warehouse.py's churn-like table of that many rows x 20 columns is
checked for drift as ``DriftCheckOperator(table=..., conn_id=...)`` checks a window: the
current sample drawn by :meth:`airflow_mlops.core.sql_sources.SqlSource.read_sample` (the
operator's ``sample_current``: the table's columns, ``COUNT(*)``, then ``TABLESAMPLE
BERNOULLI(p) REPEATABLE(seed)``, only the sample reaching the worker), compared by
:func:`airflow_mlops.core.drift.check_drift` with a fixed reference (a seeded sample of the
10^6-row table, landed once as Parquet by the parent). Each size runs in a fresh subprocess,
so its peak RSS is its own; imports, the reference and Evidently's first-run set-up (on a
small window) come before timing.

Reported per size: wall time of the sample and of the check, the client's CPU time, the
database's time (the sample's wall minus the client's CPU during it: what the worker spent
waiting), the rows delivered to the worker, the worker's peak RSS, and the drifted columns.

    flock /tmp/heavy.lock .venv/bin/python bench/warehouse_drift.py --sizes 1e6,1e7
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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from validation import PYCACHE, current_rss  # noqa: E402
from warehouse import DATABASE, SERVER, ensure_table, stamp  # noqa: E402

REFERENCE_ROWS = 10**6
WARM_ROWS = 1000


def source(table: str):
    from airflow_mlops.core.sql_sources import SqlSource

    return SqlSource.on_url(f"{SERVER}/{DATABASE}", table=f"public.{table}")


def ensure_reference(work: Path, size: int, seed: int) -> Path:
    """A seeded sample of the 10^6-row table as Parquet: the champion's training data."""
    path = work / f"reference-{size}-{seed}.parquet"
    if not path.exists():
        source(ensure_table(REFERENCE_ROWS)).read_sample(size, seed + 1).frame.to_parquet(path)
    return path


def child(table: str, reference_path: Path, size: int, seed: int, out: Path) -> None:
    """Sample ``table`` in the database and check it for drift; write the figures to ``out``."""
    import pandas as pd

    from airflow_mlops.core.drift import DriftOptions, check_drift
    from airflow_mlops.core.sql_sources import SqlSource

    options = DriftOptions(sample_size=size, seed=seed)
    reference = pd.read_parquet(reference_path)
    columns = list(reference.columns)
    check_drift(reference.head(WARM_ROWS), reference.tail(WARM_ROWS), columns=columns,
                options=options)  # Evidently's first-run set-up is not what is measured
    baseline = current_rss()
    delivered, read = [], SqlSource.read

    def counted_read(self, sql):  # the real read, counting the rows it delivers
        frame = read(self, sql)
        delivered.append({"sql": sql, "rows": len(frame.index)})
        return frame

    SqlSource.read = counted_read
    wall, cpu = time.perf_counter(), time.process_time()
    current = source(table).read_sample(size, seed, columns=columns)
    sample_wall, sample_cpu = time.perf_counter() - wall, time.process_time() - cpu
    result = check_drift(reference, current.frame, columns=columns, options=options,
                         rows_reference=REFERENCE_ROWS, rows_current=current.rows,
                         current_columns=current.columns)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    out.write_text(json.dumps({
        "wall": wall, "cpu": cpu, "sample_wall": sample_wall, "sample_cpu": sample_cpu,
        "peak_rss": peak, "baseline_rss": baseline, "delivered": delivered,
        "rows": current.rows, "sampled": result.sampled_current,
        "drifted": result.drifted_columns}))


def measure(table: str, reference: Path, size: int, seed: int, work: Path) -> dict:
    out, log = work / f"drift-{table}.json", work / f"drift-{table}.log"
    out.unlink(missing_ok=True)
    env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONPYCACHEPREFIX": str(PYCACHE)}
    command = [sys.executable, __file__, "--child", table, "--reference", str(reference),
               "--sample-size", str(size), "--seed", str(seed), "--out", str(out)]
    with log.open("w") as stderr:
        code = subprocess.call(command, stdout=stderr, stderr=stderr, env=env)
    if code:
        tail = (log.read_text().strip().splitlines() or [""])[-1]
        return {"error": f"exit {code}: {tail[:200]}"}
    return json.loads(out.read_text())


def report(results: dict[int, dict], size: int) -> list[str]:
    lines = [f"\ndrift, sample of {size:,} rows, 20 columns, against a {size:,}-row reference:",
             f"{'table rows':>11} {'wall s':>7} {'sample s':>9} {'DB s':>6} {'client CPU s':>13} "
             f"{'rows delivered':>15} {'peak RSS MiB':>13} {'RSS before':>11}  drifted"]
    for rows, r in results.items():
        if "error" in r:
            lines.append(f"{rows:>11.0e} {r['error']}")
            continue
        delivered = sum(d["rows"] for d in r["delivered"])
        lines.append(f"{rows:>11.0e} {r['wall']:>7.1f} {r['sample_wall']:>9.1f} "
                     f"{max(r['sample_wall'] - r['sample_cpu'], 0):>6.1f} {r['cpu']:>13.1f} "
                     f"{delivered:>15,} {r['peak_rss'] / 2**20:>13.0f} "
                     f"{r['baseline_rss'] / 2**20:>11.0f}  {len(r['drifted'])} of 20")
        lines += [f"{'':>11} SQL: {d['sql']}" for d in r["delivered"]]
    ok = [rows for rows, r in results.items() if "error" not in r]
    if len(ok) > 1:
        low, high = min(ok), max(ok)
        lines.append(f"peak RSS at {high:.0e} / at {low:.0e}: "
                     f"{results[high]['peak_rss'] / results[low]['peak_rss']:.2f}x; "
                     f"wall {results[high]['wall'] / results[low]['wall']:.2f}x")
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1e6,1e7")
    parser.add_argument("--sample-size", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, default=Path("/tmp/warehouse-bench"))
    parser.add_argument("--child")
    parser.add_argument("--reference", type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.reference, args.sample_size, args.seed, args.out)
        return
    args.work.mkdir(parents=True, exist_ok=True)
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, PostgreSQL at {SERVER}", flush=True)
    reference = ensure_reference(args.work, args.sample_size, args.seed)
    results = {}
    for size in args.sizes.split(","):
        rows = int(float(size))
        table = ensure_table(rows)
        print(f"{table}: {stamp()}", flush=True)
        results[rows] = measure(table, reference, args.sample_size, args.seed, args.work)
    print("\n".join(report(results, args.sample_size)), flush=True)
    print(f"done: {stamp()}", flush=True)


if __name__ == "__main__":
    main()
