"""Benchmark: where a night of the nightly retrain template goes, in one process.

    .venv/bin/python bench/night.py --nights 2

Runs ``dags/nightly_retrain.py``'s churn DAG with ``dag.test()`` (Airflow's in-process
runner: no scheduler, no worker) for ``--nights`` nights on slices of
``demo/data/customers.csv``, against a real ``mlflow server`` (SQLite backend, proxied
artifacts, as on the stack), in a private Airflow home. Per night it reports:

- **wall**: from ``dag.test()`` called to returned;
- **tasks**: the sum of the task instances' own durations (start to end in the metadata DB);
- **execute**: the sum of the time spent inside the operators' ``execute`` (the core functions
  the tasks call: what one script calling them in a row would spend, with the same imports
  already paid);
- **gaps**: wall minus tasks (dag.test()'s own scheduling loop, XCom and DB writes);
- per task: its duration, ``execute`` time, and the HTTP requests it sent to the MLflow
  server (counted by wrapping ``requests.Session.request``), with the requests a task sent
  more than once (same method and path) named.

The first night also pays the imports of MLflow, scikit-learn, GX and pandas in the task
that first needs them (in ``execute``); on the Celery stack the worker preloads them
(``airflow_mlops.worker_preload``). ``--imports`` measures, in fresh interpreters, what a
task process would pay importing them without and with that preload.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HOME = Path(tempfile.mkdtemp(prefix="night-bench-"))
os.environ.update({
    "AIRFLOW_HOME": str(HOME),
    "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{HOME / 'airflow.db'}",
    "AIRFLOW_MLOPS_DATA_ROOT": str(HOME / "data"),
    "GX_ANALYTICS_ENABLED": "False",
    "MLFLOW_ENABLE_TELEMETRY": "false",
    "DO_NOT_TRACK": "true",
})
NIGHTS = [dt.datetime(2026, 3, day, tzinfo=dt.timezone.utc) for day in range(1, 8)]
LIBRARIES = ("mlflow", "sklearn", "great_expectations", "pandas", "pyarrow")
CORE_MODULES = tuple(f"airflow_mlops.core.{name}" for name in (
    "validation", "training", "evaluation", "registry", "tracking", "quality", "io"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_mlflow() -> tuple[subprocess.Popen, str]:
    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "mlflow"), "server",
         "--backend-store-uri", f"sqlite:///{HOME / 'mlflow.db'}",
         "--artifacts-destination", str(HOME / "artifacts"), "--serve-artifacts",
         "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url + "/health", timeout=5)
            return server, url
        except OSError:
            time.sleep(1)
    os.killpg(server.pid, signal.SIGKILL)
    raise SystemExit("mlflow server did not start in 300 s")


class Recorder:
    """MLflow HTTP requests and ``execute`` time, attributed to the task running."""

    def __init__(self, server_url: str) -> None:
        self.server_url, self.task = server_url, None
        self.requests: dict[str, list[str]] = collections.defaultdict(list)
        self.execute: dict[str, float] = collections.defaultdict(float)

    def install(self) -> None:
        import requests
        from airflow.sdk.execution_time import task_runner

        send, execute_task = requests.Session.request, task_runner._execute_task
        recorder = self

        def request(session, method, url, *args, **kwargs):
            if str(url).startswith(recorder.server_url):
                path = str(url)[len(recorder.server_url):].split("?")[0]
                recorder.requests[recorder.task or "(outside tasks)"].append(f"{method} {path}")
            return send(session, method, url, *args, **kwargs)

        def timed(context, ti, log):
            recorder.task, start = ti.task_id, time.perf_counter()
            try:
                return execute_task(context=context, ti=ti, log=log)
            finally:
                recorder.execute[ti.task_id] += time.perf_counter() - start
                recorder.task = None

        requests.Session.request = request
        task_runner._execute_task = timed

    def reset(self) -> None:
        self.requests.clear()
        self.execute.clear()


def night(dag, recorder: Recorder, logical_date: dt.datetime) -> dict:
    from airflow.utils.session import create_session

    recorder.reset()
    start = time.perf_counter()
    run = dag.test(logical_date=logical_date)
    wall = time.perf_counter() - start
    with create_session() as session:
        instances = run.get_task_instances(session=session)
        tasks = {ti.task_id: (ti.state, (ti.end_date - ti.start_date).total_seconds()
                              if ti.start_date and ti.end_date else 0.0) for ti in instances}
    return {"state": run.state, "wall": wall, "tasks": tasks,
            "execute": dict(recorder.execute), "requests": {k: list(v) for k, v in
                                                             recorder.requests.items()}}


def land(customers, nights: int) -> None:
    size = len(customers) // nights
    for i, day in enumerate(NIGHTS[:nights]):
        path = HOME / "data" / "customers" / f"ds={day:%Y-%m-%d}" / "customers.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        customers.iloc[i * size:(i + 1) * size].to_csv(path, index=False)


def import_times() -> dict[str, float]:
    """Seconds a fresh interpreter spends importing what the template's tasks import (the
    libraries and our core modules), cold and after the worker preload's modules (what a
    forked Celery task process inherits)."""
    from airflow_mlops.worker_preload import PRELOADED_MODULES

    imported = LIBRARIES + CORE_MODULES
    code = ("import time, importlib; [importlib.import_module(m) for m in {pre!r}]; "
            "t = time.perf_counter(); [importlib.import_module(m) for m in {imported!r}]; "
            "print(time.perf_counter() - t)")
    times = {}
    for label, pre in (("cold", ("airflow.sdk",)),
                       ("after worker preload", ("airflow.sdk", *PRELOADED_MODULES))):
        out = subprocess.run([sys.executable, "-c", code.format(pre=pre, imported=imported)],
                             check=True, capture_output=True, text=True, cwd=REPO).stdout
        times[label] = float(out.split()[-1])
    return times


def report(number: int, result: dict) -> None:
    tasks = result["tasks"]
    busy = sum(duration for _, duration in tasks.values())
    execute = sum(result["execute"].values())
    requests = result["requests"]
    total = sum(len(v) for v in requests.values())
    print(f"\n## night {number}: {result['state']}, wall {result['wall']:.2f} s, tasks "
          f"{busy:.2f} s, execute {execute:.2f} s, gaps {result['wall'] - busy:.2f} s, "
          f"{total} MLflow requests")
    print("| task | state | duration s | execute s | MLflow requests | repeated |")
    print("| --- | --- | ---: | ---: | ---: | --- |")
    for task_id, (state, duration) in tasks.items():
        sent = collections.Counter(requests.get(task_id, []))
        repeated = ", ".join(f"{r} x{n}" for r, n in sent.most_common() if n > 1)
        print(f"| {task_id} | {state} | {duration:.2f} | {result['execute'].get(task_id, 0):.2f} "
              f"| {sum(sent.values())} | {repeated} |")
    outside = requests.get("(outside tasks)", [])
    if outside:
        print(f"| (outside tasks) | | | | {len(outside)} | |")
    every = collections.Counter(r for task in requests.values() for r in task)
    print("\nRequests by endpoint: " + ", ".join(f"{r} x{n}" for r, n in every.most_common()))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nights", type=int, default=2)
    parser.add_argument("--imports", action="store_true",
                        help="also time the libraries' imports in fresh interpreters")
    args = parser.parse_args(argv)

    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True,
                   capture_output=True)
    server, url = start_mlflow()
    try:
        os.environ["AIRFLOW_CONN_MLFLOW_DEFAULT"] = json.dumps({"conn_type": "mlflow",
                                                                "host": url})
        import runpy

        import pandas as pd

        land(pd.read_csv(REPO / "demo" / "data" / "customers.csv"), args.nights)
        dag = next(d for d in runpy.run_path(str(REPO / "dags" / "nightly_retrain.py"))["dags"]
                   if d.dag_id.endswith("churn"))
        recorder = Recorder(url)
        recorder.install()
        print(f"# {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} "
              f"cores, load average {os.getloadavg()[0]:.1f}, dag {dag.dag_id}, "
              f"{len(dag.tasks)} tasks")
        for number, day in enumerate(NIGHTS[:args.nights], start=1):
            report(number, night(dag, recorder, day))
        print(f"\n# load average {os.getloadavg()[0]:.1f}")
        if args.imports:
            print("\nImports of " + ", ".join(LIBRARIES) + " in a fresh interpreter: "
                  + ", ".join(f"{k} {v:.2f} s" for k, v in import_times().items()))
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the server and its workers
        server.wait(30)


if __name__ == "__main__":
    main()
