"""Benchmark: reading a wide drift window (few monitored columns of many) for the drift check.

A seeded window of ``--rows`` rows with ``bench/drift.py``'s 20 monitored columns plus
``--unmonitored`` numerical ones is written as Parquet (pandas' defaults: one row group up to
about a million rows). Each method then reads its 100,000-row seeded sample in a fresh
subprocess, its peak RSS growth measured from the resident size after the imports:

- ``ours``: :func:`airflow_mlops.core.io.read_sample` with the monitored columns, as the
  drift operator reads a window;
- ``ours-all-columns``: the same reader with every column, as it read windows before;
- ``pandas``: the direct call: ``pd.read_parquet(path, columns=...)``, then
  ``DataFrame.sample`` of 100,000 rows.

    .venv/bin/python bench/wide_window.py                      # 1e6 rows, 180 unmonitored
    .venv/bin/python bench/wide_window.py --rows 1e5 1e6 --repeat 3
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

METHODS = ("ours", "ours-all-columns", "pandas")
SAMPLE = 100_000

CHILD = """
import json, sys, time
sys.path.insert(0, {bench!r})
import pandas as pd, pyarrow.parquet
from airflow_mlops.core.io import read_sample
from drift import MONITORED

method, path = sys.argv[1], sys.argv[2]
def status_kib(field):  # VmHWM is this process's own peak (ru_maxrss keeps the parent's)
    line = next(l for l in open("/proc/self/status") if l.startswith(field + ":"))
    return int(line.split()[1])

before = status_kib("VmRSS")
wall, cpu = time.perf_counter(), time.process_time()
if method == "pandas":
    frame = pd.read_parquet(path, columns=MONITORED)
    frame = frame.sample({sample}, random_state=0) if len(frame) > {sample} else frame
else:
    columns = MONITORED if method == "ours" else None
    frame = read_sample(path, size={sample}, seed=0, columns=columns).frame
print(json.dumps({{"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu,
                  "growth_mib": (status_kib("VmHWM") - before) / 1024,
                  "shape": list(frame.shape)}}))
"""


def run(method: str, path: Path) -> dict:
    """One method's read in a fresh interpreter."""
    code = CHILD.format(bench=str(Path(__file__).parent), sample=SAMPLE)
    out = subprocess.run([sys.executable, "-c", code, method, str(path)], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", nargs="+", type=float, default=[1e6])
    parser.add_argument("--unmonitored", type=int, default=180)
    parser.add_argument("--repeat", type=int, default=1,
                        help="rounds (every method once each); the best wall time is shown")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).parent))
    from drift import MONITORED, window

    print(f"# {dt.date.today()}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, "
          f"{len(MONITORED)} monitored + {args.unmonitored} unmonitored columns, "
          f"sample {SAMPLE:,}, best of {args.repeat}")
    print("| rows | method | wall s | cpu s | peak RSS growth MiB | vs ours (wall / RSS) |")
    print("| --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory(prefix="wide-window-") as tmp:
        for rows in map(int, args.rows):
            path = Path(tmp) / f"window-{rows}.parquet"
            window(rows, 2, True, args.unmonitored).to_parquet(path, index=False)
            rounds = [{m: run(m, path) for m in METHODS} for _ in range(args.repeat)]
            best = {m: min((r[m] for r in rounds), key=lambda x: x["wall"]) for m in METHODS}
            ours = best["ours"]
            for method, result in best.items():
                ratio = ("" if method == "ours" else
                         f"{result['wall'] / ours['wall']:.1f}x / "
                         f"{result['growth_mib'] / max(ours['growth_mib'], 1):.1f}x")
                print(f"| {rows:.0e} | {method} | {result['wall']:.2f} | {result['cpu']:.2f} "
                      f"| {result['growth_mib']:,.0f} | {ratio} |", flush=True)


if __name__ == "__main__":
    main()
