"""Load on the production-like stack: many models, several nights each, all triggered at once.

    STACK_TEST_DAGS=1 make stack-up
    .venv/bin/python bench/stack_load.py --models 20 --nights 3
    make stack-down

Writes ``--models`` configs (the churn model under other names, each with its own data) to
``$STACK_DIR/load-models``, which tests/stack/dags/stack_load.py turns into nightly DAGs,
lands ``--nights`` partitions per model, triggers every run through the REST API at once and
waits. Checks: every run succeeds; every run's challenger got a decision (promote or reject
ran and the summary says so); each model has exactly one version per run, no duplicate;
the ledger has exactly one champion move per promotion. Reports DAG runs per minute (from the
first trigger to the last run's end) and the peak resident memory of all stack processes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import threading
import time
import uuid
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
STACK_DIR = Path(os.environ.get("STACK_DIR", REPO / ".stack")).resolve()
sys.path.insert(0, str(REPO / "tests" / "stack"))

from conftest import Api  # noqa: E402  (the stack tests' REST client)

COMPONENTS = ("mlflow", "api-server", "scheduler", "dag-processor", "triggerer", "worker")


def write_configs(count: int) -> list[str]:
    """``count`` copies of dags/models/churn.yaml, each a model with its own partitions."""
    folder = STACK_DIR / "load-models"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    base = yaml.safe_load((REPO / "dags" / "models" / "churn.yaml").read_text())
    names = [f"load_{i:02d}" for i in range(count)]
    for name in names:
        config = {**base, "name": name, "suite": str(REPO / "expectations" / "churn.json"),
                  "data_uri": "${AIRFLOW_MLOPS_DATA_ROOT}/load/" + name
                  + "/ds={{ ds }}/customers.csv"}
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return names


def stack_pgids() -> set[int]:
    pgids = set()
    for name in COMPONENTS:
        try:
            pgids.add(int((STACK_DIR / "pids" / f"{name}.pid").read_text()))
        except (FileNotFoundError, ValueError):
            pass
    return pgids


def proportional_set_size(pid: str) -> int:
    """A process's PSS in bytes: its private pages plus its share of pages it shares."""
    for line in (Path("/proc") / pid / "smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024
    return 0


def stack_memory_bytes(pgids: set[int]) -> tuple[int, int]:
    """(RSS, PSS) summed over every process in the stack's process groups.

    Summed RSS counts a page shared by forked task processes once per process; summed PSS
    counts it once in all, split between them: the memory the stack actually holds.
    """
    rss = pss = 0
    page = os.sysconf("SC_PAGE_SIZE")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) in pgids:
                rss += int(fields[21]) * page  # field 24 of stat: rss in pages
                pss += proportional_set_size(stat.parent.name)
        except (FileNotFoundError, ProcessLookupError, PermissionError, IndexError):
            continue
    return rss, pss


class PeakMemory(threading.Thread):
    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = self.peak_pss = 0
        self.stopped, self.pgids = threading.Event(), stack_pgids()

    def run(self) -> None:
        while not self.stopped.is_set():
            rss, pss = stack_memory_bytes(self.pgids)
            self.peak, self.peak_pss = max(self.peak, rss), max(self.peak_pss, pss)
            self.stopped.wait(2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=20)
    parser.add_argument("--nights", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=7200, help="seconds for all runs")
    parser.add_argument("--keep", action="store_true", help="keep the load models' DAGs")
    args = parser.parse_args()

    import pandas as pd
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from airflow_mlops.core import ledger
    from airflow_mlops.core.registry import CHAMPION, tag

    env = json.loads((STACK_DIR / "env.json").read_text())
    api = Api(env["STACK_API_URL"], env["STACK_ADMIN_USER"], env["STACK_ADMIN_PASSWORD"])
    client = MlflowClient(env["STACK_MLFLOW_URL"], env["STACK_MLFLOW_URL"])
    customers = pd.read_csv(REPO / "demo" / "data" / "customers.csv")
    names = write_configs(args.models)
    nights = [dt.datetime(2026, 8, 1 + i, tzinfo=dt.timezone.utc) for i in range(args.nights)]
    size = len(customers) // args.nights
    for name in names:
        for i, night in enumerate(nights):
            path = (Path(env["AIRFLOW_MLOPS_DATA_ROOT"]) / "load" / name
                    / f"ds={night:%Y-%m-%d}" / "customers.csv")
            path.parent.mkdir(parents=True, exist_ok=True)
            customers.iloc[i * size:(i + 1) * size].to_csv(path, index=False)
        try:
            client.delete_registered_model(name)
        except MlflowException:
            pass
        print(f"waiting for DAG nightly_retrain_{name}", flush=True)
        api.fresh_dag(f"nightly_retrain_{name}", timeout=600)

    nonce = uuid.uuid4().hex[:8]
    runs = {(name, night): f"load__{name}__{night:%Y%m%d}__{nonce}"
            for name in names for night in nights}
    memory = PeakMemory()
    memory.start()
    started = time.monotonic()
    for (name, night), rid in runs.items():
        api.trigger(night, rid, dag_id=f"nightly_retrain_{name}")
    pending, states = dict(runs), {}
    deadline = started + args.timeout
    while pending and time.monotonic() < deadline:
        for key, rid in list(pending.items()):
            state = api.run(rid, dag_id=f"nightly_retrain_{key[0]}")["state"]
            if state in ("success", "failed"):
                states[key] = state
                del pending[key]
        time.sleep(10)
    elapsed = time.monotonic() - started
    memory.stopped.set()
    memory.join()

    problems = [f"{rid}: not finished" for rid in pending.values()]
    problems += [f"{runs[key]}: {state}" for key, state in states.items() if state != "success"]
    promotions = 0
    for name in names:
        own = {rid for (model, _), rid in runs.items() if model == name}
        versions = client.search_model_versions(f"name='{name}'")
        by_run = [v.tags.get(tag("run_id")) for v in versions]
        if sorted(by_run) != sorted(own):
            problems.append(f"{name}: versions by run {sorted(map(str, by_run))}")
        decided = [v for v in versions if v.tags.get(tag("decision"))]
        if len(decided) != len(own):
            problems.append(f"{name}: {len(decided)} decisions for {len(own)} runs")
        promoted = sum(v.tags.get(tag("decision")) == "promote" for v in versions)
        moves = [e for e in ledger.history(client, name, alias=CHAMPION, max_results=1000)
                 if e.dag_run_id in own]
        if len(moves) != promoted or any(not e.done for e in moves):
            problems.append(f"{name}: {len(moves)} ledger moves for {promoted} promotions")
        promotions += promoted
    result = {
        "models": args.models, "nights": args.nights, "runs": len(runs),
        "succeeded": sum(s == "success" for s in states.values()),
        "promotions": promotions, "wall_minutes": round(elapsed / 60, 1),
        "dag_runs_per_minute": round(len(states) / (elapsed / 60), 2),
        "peak_stack_rss_gb": round(memory.peak / 2**30, 2),
        "peak_stack_pss_gb": round(memory.peak_pss / 2**30, 2),
        "worker_concurrency": env["AIRFLOW__CELERY__WORKER_CONCURRENCY"],
        "problems": problems,
    }
    print(json.dumps(result, indent=2))
    if not args.keep:
        shutil.rmtree(STACK_DIR / "load-models", ignore_errors=True)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
