"""Benchmark: each ``airflow-mlops`` command's wall time against its import floor.

Each command runs as the user runs it (``.venv/bin/airflow-mlops ...``, a fresh process) on the
demo's data (``demo/data/customers.csv``), suite (``expectations/churn.json``) and model config
(``dags/models/churn.yaml``); its **floor** is ``python -c "import <the libraries it needs>"``
in a fresh process, which no command importing those libraries can beat (for ``--help``:
argparse printing a help). The command and its floor alternate within each round, the rounds
repeat, and each time is the median.

``config check`` runs over 1, 10 and 100 copies of the model config, each with its own name:
``(4 pipelines)`` cycles the classifier's ``C`` through four values, as configs copied from
one template do; ``(N pipelines)`` gives every config its own ``C``, so every pipeline is
fitted. ``models status`` reads a model registered (untimed, once) in a SQLite store, whose
client needs MLflow and its SQL stores (SQLAlchemy, Alembic, MLflow's ``sqlalchemy_store``
modules), and through a local ``mlflow server`` on that store (``http:``), whose client needs
MLflow only. The server runs only while its own row is timed, after the others, so its polling
loads none of them.

Children cache bytecode under a folder of the temp dir, so where PYTHONDONTWRITEBYTECODE is set
each import still costs what it costs in an installed package, not a compile of its source.

    flock /tmp/heavy.lock .venv/bin/python bench/cli.py             # 5 rounds
    .venv/bin/python bench/cli.py --repeat 1 --only validate,drift
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DATA = REPO / "demo" / "data" / "customers.csv"
SUITE = REPO / "expectations" / "churn.json"
CONFIG = REPO / "dags" / "models" / "churn.yaml"
MODEL = "churn"
C_VALUES = (0.25, 0.5, 1.0, 2.0)
PYCACHE = Path(tempfile.gettempdir()) / "cli-bench-pycache"
SERVER_START_SECONDS = 120
# The libraries each command needs: what it cannot avoid importing.
FLOORS = {
    # ``--help`` needs argparse and its help formatter (which imports shutil and textwrap).
    "help": "import argparse; argparse.ArgumentParser().print_help()",
    "gx": "import pandas, great_expectations",
    "mlflow": "import mlflow",
    "mlflow-sql": "import mlflow, mlflow.store.tracking.sqlalchemy_store, "
                  "mlflow.store.model_registry.sqlalchemy_store",
    "evidently": "import pandas, evidently",
    "config": "import pandas, sklearn.pipeline, great_expectations, skops.io, airflow.sdk",
}
REGISTER = """
import sys
from mlflow import MlflowClient
client = MlflowClient(sys.argv[1], sys.argv[1])
client.create_registered_model(sys.argv[2])
version = client.create_model_version(sys.argv[2], source=sys.argv[3])
client.set_registered_model_alias(sys.argv[2], "champion", version.version)
"""


def write_configs(folder: Path, count: int, pipelines: int) -> Path:
    """``count`` copies of the model config under ``folder``, over ``pipelines`` values of C."""
    base = yaml.safe_load(CONFIG.read_text())
    base["suite"] = str(SUITE)
    folder.mkdir(parents=True)
    for number in range(count):
        config = {**base, "name": f"{MODEL}{number:03}"}
        steps = [dict(step) for step in base["estimator"]["steps"]]
        c_value = (C_VALUES[number % pipelines] if pipelines <= len(C_VALUES)
                   else 0.01 * (number + 1))
        steps[-1]["params"] = {**steps[-1]["params"], "C": c_value}
        config["estimator"] = {**base["estimator"], "steps": steps}
        (folder / f"{config['name']}.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return folder


@contextmanager
def mlflow_server(store: str, artifacts: Path, env: dict[str, str]) -> Iterator[str]:
    """A local ``mlflow server`` on ``store``, stopped when the block ends; its URI."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [str(BIN / "mlflow"), "server", "--backend-store-uri", store, "--host", "127.0.0.1",
         "--port", str(port), "--workers", "1", "--artifacts-destination", str(artifacts)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            try:
                urllib.request.urlopen(f"{uri}/health", timeout=2).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"mlflow server on {store} did not start") from None
                time.sleep(0.5)
        yield uri
    finally:
        server.terminate()
        server.wait(timeout=30)


def cases(work: Path, tracking: str) -> list[tuple[str, list[str], str]]:
    """(label, command arguments, floor) of every timed command needing no server."""
    data, suite = str(DATA), str(SUITE)
    found = [
        ("--help", ["--help"], "help"),
        ("validate --help", ["validate", "--help"], "help"),
        ("validate", ["validate", data, "--suite", suite], "gx"),
        ("suite init", ["suite", "init", data, "--out", str(work / "suite.json"), "--force"],
         "gx"),
        ("models status (sqlite:)", ["models", "status", MODEL, "--tracking-uri", tracking],
         "mlflow-sql"),
        ("drift", ["drift", data, data], "evidently"),
        ("drift --config", ["drift", data, data, "--config", str(CONFIG)], "evidently"),
    ]
    for count, pipelines in ((1, 1), (10, 4), (100, 4), (10, 10), (100, 100)):
        label = f"config check {count} ({pipelines} pipeline{'s' if pipelines > 1 else ''})"
        folder = write_configs(work / f"configs-{count}-{pipelines}", count, pipelines)
        found.append((label, ["config", "check", str(folder)], "config"))
    return found


def timed(command: list[str], env: dict[str, str], expect: int = 0) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != expect:
        raise SystemExit(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="rounds (5)")
    parser.add_argument("--only", help="comma-separated labels' first words, e.g. validate,drift")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-cli-"))
    tracking = f"sqlite:///{work / 'mlflow.db'}"
    env = {**os.environ, "AIRFLOW_HOME": str(work / "airflow"), "GX_ANALYTICS_ENABLED": "False",
           "AIRFLOW_MLOPS_DATA_ROOT": str(work / "data"), "MLFLOW_ENABLE_TELEMETRY": "false",
           "DO_NOT_TRACK": "true", "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "PYTHONPYCACHEPREFIX": str(PYCACHE)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # else every child compiles every module again
    subprocess.run([str(BIN / "python"), "-c", REGISTER, tracking, MODEL, str(work / "model")],
                   env=env, check=True, capture_output=True)
    rows = measure(cases(work, tracking), args, env)
    if selected("models", args):
        with mlflow_server(tracking, work / "artifacts", env) as server:
            rows += measure([("models status (http:)",
                              ["models", "status", MODEL, "--tracking-uri", server], "mlflow")],
                            args, env)
    load = os.getloadavg()[0]
    print(f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
          f"{platform.python_version()}, {args.repeat} rounds, load average {load:.1f}\n")
    print("| command | wall s | floor | floor s | command / floor | above floor s |")
    print("|---|---:|---|---:|---:|---:|")
    for label, floor, wall, base in rows:
        print(f"| `{label}` | {wall:.3f} | `{FLOORS[floor]}` | {base:.3f} | {wall / base:.2f}x "
              f"| {wall - base:.3f} |")


def selected(first_word: str, args: argparse.Namespace) -> bool:
    """Whether ``--only`` (or its absence) selects the rows starting with ``first_word``."""
    return not args.only or first_word in {word.strip() for word in args.only.split(",")}


def measure(chosen: list[tuple[str, list[str], str]], args: argparse.Namespace,
            env: dict[str, str]) -> list[tuple[str, str, float, float]]:
    """(label, floor, median wall s, median floor s) of the cases ``--only`` selects."""
    chosen = [case for case in chosen if selected(case[0].split()[0], args)]
    cli = str(BIN / "airflow-mlops")
    for _, command, floor in chosen:  # untimed: Airflow's first start, the config cache
        timed([cli, *command], env)
        timed([str(BIN / "python"), "-c", FLOORS[floor]], env)
    times: dict[str, list[float]] = {label: [] for label, _, _ in chosen}
    floors: dict[str, list[float]] = {label: [] for label, _, _ in chosen}
    for _ in range(args.repeat):
        for label, command, floor in chosen:
            times[label].append(timed([cli, *command], env))
            floors[label].append(timed([str(BIN / "python"), "-c", FLOORS[floor]], env))
    return [(label, floor, statistics.median(times[label]), statistics.median(floors[label]))
            for label, _, floor in chosen]


if __name__ == "__main__":
    main()
