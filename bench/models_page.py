"""Benchmark: the Models page for many models, through Airflow's api-server app.

``--models`` model configs (copies of dags/models/churn.yaml under other names) and, in a fresh
SQLite MLflow store, each model registered with three versions, champion, previous_champion
and challenger aliases (their moves in the alias ledger) and a checked drift window; a
migrated SQLite Airflow metadata DB with the DAGs the factory builds from those configs
(``airflow dags reserialize``) and ``--nights`` DAG runs per model. Then
``GET /mlops/models`` as a signed-in user through Airflow's own app (FastAPI TestClient, auth
included). ``start``: the first request right after the app is built, while the snapshot is
being warmed (it waits for models not read yet, at most the cache's wait); ``warmed``: the
first request once the start-up read finished; ``warm``: ``--repeat`` requests within the
snapshot's lifetime; ``lapsed``: ``--repeat`` requests each after the lifetime lapsed (each
served from the last snapshot while one background refresh reads it again).

    .venv/bin/python bench/models_page.py                 # 100 models, 7 nights each
    .venv/bin/python bench/models_page.py --models 10 100 --repeat 20
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "dags" / "models" / "churn.yaml"


def prepare(root: Path, models: int, nights: int) -> None:
    """Configs, MLflow store and Airflow DB for ``models`` models (in this process's env)."""
    from mlflow import MlflowClient

    from airflow_mlops.core import registry
    from airflow_mlops.core.drift_history import WINDOW_END_METRIC, monitoring_experiment

    configs = root / "models"
    configs.mkdir()
    text = CONFIG.read_text()
    names = [f"model_{i:03d}" for i in range(models)]
    for name in names:
        (configs / f"{name}.yaml").write_text(text.replace("name: churn", f"name: {name}"))
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True,
                   capture_output=True)
    client = MlflowClient(os.environ["MLFLOW_TRACKING_URI"])
    for name in names:
        client.create_registered_model(name)
        for number in (1, 2, 3):
            client.create_model_version(name, f"file:///nowhere/{name}/{number}")
        lineage = {"dag_id": f"nightly_retrain_{name}", "run_id": "bench__1"}
        registry.promote(client, name, "1", expected_champion=None, lineage=lineage,
                         reason="first")
        registry.promote(client, name, "2", expected_champion="1",
                         lineage={**lineage, "run_id": "bench__2"}, reason="better")
        registry.set_alias(client, name, registry.CHALLENGER, "3", action="train",
                           lineage={**lineage, "run_id": "bench__3"})
        experiment = client.create_experiment(monitoring_experiment(f"airflow-mlops/{name}"))
        run = client.create_run(experiment, tags={registry.tag("monitor"): "drift",
                                                  registry.tag("drifted"): "false",
                                                  registry.tag("champion_version"): "2"})
        client.log_metric(run.info.run_id, WINDOW_END_METRIC, 1.78e9)
    # The DAGs themselves, as the dag-processor would store them: the page shows a model to
    # the users the auth manager lets read its DAG.
    subprocess.run([sys.executable, "-m", "airflow", "dags", "reserialize"], check=True,
                   capture_output=True)
    add_runs(names, nights)


def add_runs(names: list[str], nights: int) -> None:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState
    from airflow.utils.types import DagRunTriggeredByType, DagRunType

    start = dt.datetime(2026, 5, 1, tzinfo=dt.timezone.utc)
    with create_session() as session:
        for name in names:
            for night in range(nights):
                day = start + dt.timedelta(days=night)
                session.add(DagRun(
                    dag_id=f"nightly_retrain_{name}", run_id=f"scheduled__{day.isoformat()}",
                    logical_date=day, run_after=day, run_type=DagRunType.SCHEDULED,
                    state=DagRunState.SUCCESS, triggered_by=DagRunTriggeredByType.TIMETABLE,
                ))


def measure(models: int, repeat: int) -> dict:
    from airflow import plugins_manager
    from airflow.api_fastapi.app import create_app, get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from fastapi.testclient import TestClient

    from airflow_mlops.plugins.app import STATES
    from airflow_mlops.plugins.models_page import api_app

    began = time.perf_counter()
    plugins_manager.get_fastapi_plugins = lambda: ([api_app()], [])
    client = TestClient(create_app())
    built = time.perf_counter() - began
    token = get_auth_manager().generate_jwt(SimpleAuthManagerUser(username="b", role="viewer"))
    client.cookies.set("_token", token)

    def get() -> float:
        began = time.perf_counter()
        response = client.get("/mlops/models")
        elapsed = time.perf_counter() - began
        assert response.status_code == 200, response.text[:500]
        assert response.text.count('class="model"') == models, "every model is on the page"
        return elapsed

    start = get()
    STATES.wait_idle()
    warm_up = time.perf_counter() - began
    warmed = get()
    warm = [get() for _ in range(repeat)]
    lapsed = []
    for _ in range(repeat):
        STATES.wait_idle()
        STATES.ttl = 0.0  # the snapshot lapses now
        lapsed.append(get())
        STATES.ttl = 30.0
    STATES.wait_idle()
    return {"app_built_s": round(built, 2), "start_s": round(start, 3),
            "warm_up_s": round(warm_up, 2), "warmed_s": round(warmed, 3),
            "warm_median_s": round(statistics.median(warm), 3),
            "warm_max_s": round(max(warm), 3),
            "lapsed_median_s": round(statistics.median(lapsed), 3),
            "lapsed_max_s": round(max(lapsed), 3)}


def child(models: int, nights: int, repeat: int) -> dict:
    root = Path(tempfile.mkdtemp(prefix="bench-models-page-"))
    os.environ.update({
        "AIRFLOW_HOME": str(root / "airflow"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{root / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__MLOPS__CONFIGS_FOLDER": str(root / "models"),
        "AIRFLOW_MLOPS_CONFIGS": str(root / "models"),
        "AIRFLOW_MLOPS_DATA_ROOT": str(root / "data"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}",
        "AIRFLOW_CONN_MLFLOW_DEFAULT": json.dumps({"conn_type": "mlflow",
                                                   "host": f"sqlite:///{root / 'mlflow.db'}"}),
        "MLFLOW_ENABLE_TELEMETRY": "false", "DO_NOT_TRACK": "true",
    })
    try:
        prepare(root, models, nights)
        return {"models": models, "nights": nights, **measure(models, repeat)}
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, nargs="+", default=[100])
    parser.add_argument("--nights", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.models[0], args.nights, args.repeat)))
        return
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}")
    for models in args.models:  # each size in a fresh process with its own Airflow home
        out = subprocess.run(
            [sys.executable, __file__, "--child", "--models", str(models), "--nights",
             str(args.nights), "--repeat", str(args.repeat)],
            check=True, capture_output=True, text=True).stdout
        print(out.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
