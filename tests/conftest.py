"""Test harness: a private Airflow home with a migrated SQLite DB, and fresh MLflow stores.

Airflow reads its configuration when first imported, so the environment is set here,
before any test module imports airflow or airflow_mlops.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="airflow-mlops-tests-"))

os.environ.update({
    "AIRFLOW_HOME": str(AIRFLOW_HOME),
    "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{AIRFLOW_HOME / 'airflow.db'}",
    "GX_ANALYTICS_ENABLED": "False",
    # A test that forgets to point MLflow somewhere must not write mlflow.db into the repo.
    "MLFLOW_TRACKING_URI": f"sqlite:///{AIRFLOW_HOME / 'stray-mlflow.db'}",
    "MLFLOW_ENABLE_TELEMETRY": "false",
    "DO_NOT_TRACK": "true",
})


STRAY_OUTPUTS = ("mlruns", "mlflow.db", "mlartifacts")


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(AIRFLOW_HOME, ignore_errors=True)
    strays = [name for name in STRAY_OUTPUTS if (REPO / name).exists()]
    if strays:
        print(f"\ntests wrote {strays} into the repository; point MLflow at tmp_path instead")
        session.exitstatus = 1


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """A migrated Airflow metadata DB (SQLite) for real DAG runs."""
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True,
                   capture_output=True)
    return AIRFLOW_HOME / "airflow.db"


@pytest.fixture(scope="session")
def _empty_mlflow_db(tmp_path_factory) -> Path:
    """An MLflow SQLite database with its tables created: migrating one takes seconds."""
    from mlflow import MlflowClient

    path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    MlflowClient(f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def tracking_uri(tmp_path: Path, _empty_mlflow_db: Path) -> str:
    """A fresh MLflow SQLite store (a copy of an empty one) under the test's tmp_path."""
    shutil.copyfile(_empty_mlflow_db, tmp_path / "mlflow.db")
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


@pytest.fixture
def mlflow_session(tracking_uri: str):
    """MLflow's fluent API and new clients pointed at the fresh store for one test."""
    from airflow_mlops.core.tracking import TrackingTarget, tracking_session

    with tracking_session(TrackingTarget(tracking_uri)):
        yield tracking_uri


@pytest.fixture
def mlflow_connection(tracking_uri: str, monkeypatch) -> str:
    """The ``mlflow_default`` Airflow connection, pointed at the fresh store."""
    connection = {
        "conn_type": "mlflow",
        "host": tracking_uri,
        "extra": {"artifact_location": tracking_uri.removeprefix("sqlite:///") + ".artifacts"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_MLFLOW_DEFAULT", json.dumps(connection))
    return tracking_uri


SERVER_START_SECONDS = 180


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory) -> str:
    """A real ``mlflow server`` (SQLite backend, artifacts it serves itself) on a free
    loopback port, for one test module; its base URL."""
    import time

    root = tmp_path_factory.mktemp("mlflow-server")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = (root / "server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
         "--artifacts-destination", str(root / "artifacts"), "--workers", "1"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + SERVER_START_SECONDS
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=5):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("mlflow server did not start: "
                                       + (root / "server.log").read_text()[-2000:]) from None
                time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


@pytest.fixture
def http_mlflow_connection(mlflow_server: str, monkeypatch) -> str:
    """The ``mlflow_default`` Airflow connection, pointed at :func:`mlflow_server`."""
    monkeypatch.setenv("AIRFLOW_CONN_MLFLOW_DEFAULT",
                       json.dumps({"conn_type": "mlflow", "host": mlflow_server}))
    return mlflow_server


@pytest.fixture
def night_notes():
    """The night-note listener, registered as the provider's plugin registers it; and
    ``night_notes(run)``, the note of a finished DAG run as the metadata DB has it."""
    from airflow.listeners.listener import get_listener_manager
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    from airflow_mlops.listeners import night_note

    manager = get_listener_manager()
    added = not manager.pm.is_registered(night_note)
    manager.add_listener(night_note)

    def note(run) -> str | None:
        with create_session() as session:
            return session.query(DagRun).filter_by(dag_id=run.dag_id,
                                                   run_id=run.run_id).one().note

    yield note
    if added:
        manager.pm.unregister(night_note)


@pytest.fixture(scope="session")
def customers():
    """The bundled example data set."""
    import pandas as pd

    return pd.read_csv(REPO / "demo" / "data" / "customers.csv")


TRAINED_EXPERIMENT = "trained"


@pytest.fixture(scope="module")
def store(tmp_path_factory, customers):
    """One MLflow store for a test module; ``store()`` trains and registers a sound version of
    model ``churn`` (a logistic regression on 200 customers, skops, digest recorded) in
    experiment :data:`TRAINED_EXPERIMENT`, and returns its version."""
    from mlflow import MlflowClient

    from airflow_mlops.core.tracking import TrackingTarget, ensure_experiment, tracking_session
    from airflow_mlops.core.training import train_challenger

    root = tmp_path_factory.mktemp("store")

    def new_version() -> str:
        runs = len(MlflowClient().search_model_versions("name='churn'"))
        return train_challenger(
            customers.head(200), model_name="churn", experiment_name=TRAINED_EXPERIMENT,
            target="churned", task="classification", holdout_fraction=0.3, seed=7,
            features=["tenure_months", "monthly_charges", "support_calls", "contract", "region"],
            estimator={"class": "sklearn.linear_model.LogisticRegression"},
            lineage={"dag_id": "nightly_retrain_churn", "run_id": f"run-{runs}",
                     "data_fingerprint": "f"},
            artifact_location=str(root / "artifacts"),
        )["version"]

    with tracking_session(TrackingTarget(f"sqlite:///{root / 'mlflow.db'}")):
        ensure_experiment(TRAINED_EXPERIMENT, str(root / "artifacts"))
        yield new_version


@pytest.fixture(scope="session")
def churn_suite() -> Path:
    return REPO / "expectations" / "churn.json"


class SqliteHook:
    """A common.sql hook on a SQLite file; Airflow 3.3 ships no SQLite provider."""

    def __new__(cls, path: Path):
        from airflow.providers.common.sql.hooks.sql import DbApiHook

        class Hook(DbApiHook):
            conn_name_attr = "sqlite_conn_id"
            default_conn_name = "warehouse"

            def get_conn(self):
                return sqlite3.connect(path)

        return Hook()


@pytest.fixture
def warehouse(tmp_path, customers, monkeypatch) -> Path:
    """Connection ``warehouse``: a SQLite file whose table ``customers`` has 700 rows."""
    from airflow.sdk.definitions.connection import Connection

    path = tmp_path / "warehouse.db"
    with sqlite3.connect(path) as connection:
        customers.head(700).to_sql("customers", connection, index=False)
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", json.dumps({"conn_type": "sqlite",
                                                             "host": str(path)}))
    monkeypatch.setattr(Connection, "get_hook", lambda self, **_: SqliteHook(path))
    return path


@pytest.fixture
def task_states():
    """``task_states(run)``: each task's state in a DAG run, read from the metadata DB."""
    from airflow.utils.session import create_session

    def states(run) -> dict[str, str]:
        with create_session() as session:
            return {ti.task_id: ti.state for ti in run.get_task_instances(session=session)}

    return states


@pytest.fixture
def run_tasks():
    """``run_tasks(dag, run_id, clear=None)``: run the tasks of an existing DagRun with the
    scheduling loop dag.test() uses; with ``clear``, first clear those tasks of the finished run,
    as the scheduler does after ``airflow tasks clear`` (dag.test() would replace the DagRun)."""
    from airflow.models.dagrun import DagRun
    from airflow.sdk.definitions.dag import _run_task
    from airflow.serialization.serialized_objects import DagSerialization
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState, TaskInstanceState

    def run(dag, run_id: str, clear: list[str] | None = None):
        scheduled = DagSerialization.deserialize_dag(DagSerialization.serialize_dag(dag))
        if clear:
            scheduled.clear(task_ids=clear, run_id=run_id, dag_run_state=DagRunState.RUNNING)
        with create_session() as session:
            dag_run = session.query(DagRun).filter_by(dag_id=dag.dag_id, run_id=run_id).one()
            dag_run.dag = scheduled
            while dag_run.state == DagRunState.RUNNING:
                session.expire_all()
                schedulable, _ = dag_run.update_state(session=session)
                for ti in schedulable:
                    ti.try_number += 1
                    ti.state = TaskInstanceState.SCHEDULED
                session.commit()
                for ti in dag_run.get_task_instances(session=session):
                    if ti.state == TaskInstanceState.SCHEDULED:
                        _run_task(ti=ti, task=dag.task_dict[ti.task_id])
            return dag_run

    return run


@pytest.fixture
def forge_digest():
    """``forge_digest(model, version)`` records the digest of a version's files as they are.

    For versions registered by hand (no digest recorded, so refused before anything else), as
    someone able to write registry tags could: only the checks after the hash remain.
    """
    from mlflow import MlflowClient

    from airflow_mlops.core import registry
    from airflow_mlops.core.fetch import DIGEST_TAG, downloaded_digest

    def forge(model: str, version: str) -> None:
        registry.set_version_tags(MlflowClient(), model, str(version),
                                  {DIGEST_TAG: downloaded_digest(model, str(version))})

    return forge


@pytest.fixture
def dag_bundle(tmp_path, monkeypatch) -> Path:
    """``tmp_path/dags``, configured as a local DAG bundle of its own next to ``dags-folder``:
    ``dag.test()`` runs a DAG only from a file in a configured bundle."""
    local = "airflow.dag_processing.bundles.local.LocalDagBundle"
    folder = tmp_path / "dags"
    folder.mkdir()
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", json.dumps([
        {"name": "dags-folder", "classpath": local, "kwargs": {}},
        {"name": f"tests-{tmp_path.name}", "classpath": local,
         "kwargs": {"path": str(folder), "refresh_interval": 0}},
    ]))
    return folder


PG_SERVER = os.environ.get("MLOPS_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432")
PG_DATABASE = os.environ.get("MLOPS_TEST_PG_DATABASE", "mlops_wh_test")


@pytest.fixture(scope="session")
def postgres() -> str:
    """SQLAlchemy URL of a fresh database (``mlops_wh_test``, or ``$MLOPS_TEST_PG_DATABASE``)
    on the machine's PostgreSQL.

    Skipped when PostgreSQL is unreachable, except in CI (``CI=true``), where it must be there.
    """
    import sqlalchemy as sa

    server = sa.create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as connection:
            connection.execute(sa.text(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)"))
            connection.execute(sa.text(f"CREATE DATABASE {PG_DATABASE}"))
    except sa.exc.OperationalError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but PostgreSQL at {PG_SERVER} is unreachable: {exc}")
        pytest.skip(f"PostgreSQL at {PG_SERVER} is unreachable")
    finally:
        server.dispose()
    return f"{PG_SERVER}/{PG_DATABASE}"


@pytest.fixture
def pg_customers(postgres, customers) -> str:
    """``postgres`` with table ``public.customers``: the first 700 example customers."""
    import sqlalchemy as sa

    engine = sa.create_engine(postgres)
    customers.head(700).to_sql("customers", engine, schema="public", index=False,
                               if_exists="replace")
    engine.dispose()
    return postgres


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium driven by Playwright (its own browser download is never used).

    Module-scoped: Playwright's sync API keeps an event loop running while it is open, and
    later tests that call ``asyncio.run`` must not find one."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make .tools/chromium` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def land():
    """``land(frame, folder, day, name)`` writes ``folder/ds=YYYY-MM-DD/name`` as CSV."""

    def land(frame, folder: Path, day: dt.datetime, name: str = "customers.csv") -> Path:
        path = folder / f"ds={day:%Y-%m-%d}" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(path, index=False)
        return path

    return land


@pytest.fixture
def shifted():
    """``shifted(frame)``: older, pricier customers who call support more, on longer contracts."""

    def shifted(frame):
        frame = frame.copy()
        frame["tenure_months"] += 30
        frame["monthly_charges"] *= 1.6
        frame["support_calls"] += 3
        frame["contract"] = "two-year"
        return frame

    return shifted
