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

``--stack`` then runs the same night on the Celery stack, in the same invocation (one run each,
the in-process one first, before the stack starts): ``stack/stack.py up``, the worker restarted
with ``PYTHONPROFILEIMPORTTIME=1`` (every import a forked task process still executes is
written to its stderr, which Airflow keeps in the task log), one run of
``nightly_retrain_churn`` triggered through the REST API on a fresh model, then
``stack/stack.py down``. From the API: each task instance's queued, start and end times; from
its log: when the task process started (``::group::Pre Execute``), entered and left
``execute`` and ended, and its imports; from the MLflow server's access log (tailed while the
run goes, each line stamped when it appears): the requests made while each task ran.

    flock /tmp/heavy.lock .venv/bin/python bench/night.py --nights 1 --stack
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HOME = Path(tempfile.mkdtemp(prefix="night-bench-"))
OWN_ENVIRONMENT = dict(os.environ)  # what the stack's processes start from
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


IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( +)(\S+)")


class AccessLog(threading.Thread):
    """Lines the MLflow server appends to its log, each stamped (epoch seconds) when read."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path, self.offset = path, path.stat().st_size
        self.lines: list[tuple[float, str]] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        with self.path.open("rb") as log:
            log.seek(self.offset)
            pending = b""
            while not self.stopped.is_set():
                pending += log.read()
                *complete, pending = pending.split(b"\n")
                now = time.time()
                self.lines += [(now, line.decode(errors="replace")) for line in complete]
                self.stopped.wait(0.05)

    def requests(self) -> list[tuple[float, str]]:
        found = []
        for stamp, line in self.lines:
            if match := re.search(r'"(GET|POST|PUT|PATCH|DELETE) (\S+) HTTP', line):
                found.append((stamp, f"{match[1]} {match[2].split('?')[0]}"))
        return found


def stamp(text: str | None) -> float | None:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() if text else None


def task_log_times(events: list[dict]) -> dict:
    """From a task try's log events: process start, execute start and end, log end, and the
    imports its process executed (from ``PYTHONPROFILEIMPORTTIME``'s lines)."""
    times, imports = {}, []
    for event in events:
        text, at = str(event.get("event", "")), stamp(event.get("timestamp"))
        if match := IMPORT_LINE.search(text):
            if len(match[3]) == 1:  # top level: its cumulative time includes its children
                imports.append((int(match[2]) / 1e6, match[4]))
            continue
        if at is None:
            continue
        times.setdefault("first", at)
        times["last"] = at
        if text == "::group::Pre Execute":
            times.setdefault("process", at)
        elif text == "::endgroup::" and "process" in times:
            times.setdefault("execute", at)
        elif text == "::group::Post Execute":
            times.setdefault("executed", at)
    times["imports"] = sorted(imports, reverse=True)
    return times


def stack_command(*args: str, env: dict | None = None) -> None:
    subprocess.run([sys.executable, str(REPO / "stack" / "stack.py"), *args], check=True,
                   env={**OWN_ENVIRONMENT, **(env or {})}, cwd=REPO)


def restart_worker_with_importtime(stack_dir: Path) -> None:
    log = stack_dir / "logs" / "worker.log"
    offset = log.stat().st_size
    stack_command("stop", "worker")
    stack_command("start", "worker", env={"PYTHONPROFILEIMPORTTIME": "1"})
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        with log.open("rb") as handle:
            handle.seek(offset)
            if b" ready." in handle.read():
                return
        time.sleep(1)
    raise SystemExit("the restarted worker was not ready in 300 s")


def stack_night(customers, day: dt.datetime) -> dict:
    """One night of nightly_retrain_churn on the running stack, timed from the outside."""
    sys.path.insert(0, str(REPO / "tests" / "stack"))
    from conftest import Api
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    stack_dir = REPO / ".stack"
    env = json.loads((stack_dir / "env.json").read_text())
    restart_worker_with_importtime(stack_dir)
    api = Api(env["STACK_API_URL"], env["STACK_ADMIN_USER"], env["STACK_ADMIN_PASSWORD"])
    dag_id = "nightly_retrain_churn"
    api.fresh_dag(dag_id, timeout=600)
    try:
        MlflowClient(env["STACK_MLFLOW_URL"], env["STACK_MLFLOW_URL"]).delete_registered_model(
            "churn")
    except MlflowException:
        pass
    path = Path(env["AIRFLOW_MLOPS_DATA_ROOT"]) / "customers" / f"ds={day:%Y-%m-%d}"
    shutil.rmtree(path.parent, ignore_errors=True)
    path.mkdir(parents=True)
    customers.to_csv(path / "customers.csv", index=False)
    access = AccessLog(stack_dir / "logs" / "mlflow.log")
    access.start()
    run_id = f"night_bench__{day:%Y%m%d}__{os.getpid()}"
    triggered = time.time()
    api.trigger(day, run_id, dag_id=dag_id)
    state = api.wait(run_id, timeout=1800, dag_id=dag_id)
    ended = time.time()
    time.sleep(1)
    access.stopped.set()
    access.join()
    run = api.run(run_id, dag_id)
    tasks = {}
    for ti in api.task_instances(run_id, dag_id):
        info = {key: stamp(ti.get(key)) for key in ("queued_when", "start_date", "end_date")}
        info.update(state=ti["state"], duration=ti.get("duration") or 0.0)
        if ti["state"] in ("success", "failed"):
            info["log"] = task_log_times(api.log_events(run_id, ti["task_id"],
                                                        ti["try_number"], dag_id))
        tasks[ti["task_id"]] = info
    requests = collections.defaultdict(list)
    for at, request in access.requests():
        owner = next((task_id for task_id, info in tasks.items() if info["start_date"]
                      and info["start_date"] - 0.5 <= at <= (info["end_date"] or ended) + 0.5),
                     "(outside tasks)")
        requests[owner].append(request)
    return {"state": state, "triggered": triggered, "ended": ended, "tasks": tasks,
            "run_start": stamp(run.get("start_date")), "run_end": stamp(run.get("end_date")),
            "requests": requests}


def report_stack(result: dict, one_script: dict) -> None:
    tasks = {k: v for k, v in result["tasks"].items() if v["start_date"]}
    order = sorted(tasks, key=lambda k: tasks[k]["start_date"])
    busy = sum(tasks[k]["duration"] for k in order)
    wall = result["run_end"] - result["triggered"]
    inside = sum(t["log"]["executed"] - t["log"]["execute"] for t in tasks.values()
                 if "executed" in t.get("log", {}) and "execute" in t["log"])
    script = sum(one_script["execute"].values())
    total = sum(len(v) for v in result["requests"].values())
    print(f"\n## the stack: {result['state']}, trigger to run end {wall:.2f} s (to seen ended "
          f"{result['ended'] - result['triggered']:.2f} s), tasks {busy:.2f} s, inside execute "
          f"{inside:.2f} s; one script (in-process execute) {script:.2f} s; ratio wall / one "
          f"script {wall / script:.2f}; {total} MLflow requests")
    print("| task | state | queued to start s | previous end to start s | duration s | process "
          "start to execute s | execute s | after execute s | imports in task s | MLflow "
          "requests | repeated |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    previous_end = result["triggered"]
    for task_id in order:
        t, log = tasks[task_id], tasks[task_id].get("log", {})
        queued = t["start_date"] - t["queued_when"] if t["queued_when"] else float("nan")
        before = log.get("execute", float("nan")) - log.get("process", float("nan"))
        inside = log.get("executed", float("nan")) - log.get("execute", float("nan"))
        after = log.get("last", float("nan")) - log.get("executed", float("nan"))
        imports = sum(seconds for seconds, _ in log.get("imports", []))
        sent = collections.Counter(result["requests"].get(task_id, []))
        repeated = ", ".join(f"{r} x{n}" for r, n in sent.most_common() if n > 1)
        print(f"| {task_id} | {t['state']} | {queued:.2f} | {t['start_date'] - previous_end:.2f} "
              f"| {t['duration']:.2f} | {before:.2f} | {inside:.2f} | {after:.2f} | "
              f"{imports:.3f} | {sum(sent.values())} | {repeated} |")
        previous_end = max(previous_end, t["end_date"] or previous_end)
    for task_id in order:
        heaviest = tasks[task_id].get("log", {}).get("imports", [])[:5]
        if heaviest:
            print(f"- imports of {task_id}: " + ", ".join(f"{name} {seconds:.3f} s"
                                                        for seconds, name in heaviest))
    outside = result["requests"].get("(outside tasks)", [])
    if outside:
        print(f"- MLflow requests outside any task's run time: {len(outside)}")
    skipped = [k for k, v in result["tasks"].items() if not v["start_date"]]
    print(f"- not run: {', '.join(skipped) or 'none'}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nights", type=int, default=2)
    parser.add_argument("--imports", action="store_true",
                        help="also time the libraries' imports in fresh interpreters")
    parser.add_argument("--stack", action="store_true",
                        help="then run the first night on the Celery stack (brought up and down)")
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
        results = [night(dag, recorder, day) for day in NIGHTS[:args.nights]]
        for number, result in enumerate(results, start=1):
            report(number, result)
        print(f"\n# load average {os.getloadavg()[0]:.1f}")
        if args.stack:
            customers = pd.read_csv(REPO / "demo" / "data" / "customers.csv")
            first = customers.iloc[:len(customers) // args.nights]
            stack_command("up")
            try:
                print(f"# stack up, {dt.datetime.now(dt.timezone.utc):%H:%M} UTC, load average "
                      f"{os.getloadavg()[0]:.1f}", flush=True)
                report_stack(stack_night(first, NIGHTS[0]), results[0])
            finally:
                stack_command("down")
            print(f"\n# stack down, {dt.datetime.now(dt.timezone.utc):%H:%M} UTC, load average "
                  f"{os.getloadavg()[0]:.1f}")
        if args.imports:
            print("\nImports of " + ", ".join(LIBRARIES) + " in a fresh interpreter: "
                  + ", ".join(f"{k} {v:.2f} s" for k, v in import_times().items()))
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the server and its workers
        server.wait(30)


if __name__ == "__main__":
    main()
