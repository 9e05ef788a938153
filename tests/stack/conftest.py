"""Fixtures for the stack tests: a REST client for the running stack and a clean model.

The stack is started by ``make stack-up`` (``make test-stack`` does it); these tests only
talk to it: Airflow through its public REST API, MLflow through its tracking server.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
STACK_DIR = Path(os.environ.get("STACK_DIR", REPO / ".stack"))
DAG_ID = "nightly_retrain_churn"
MODEL = "churn"
TERMINAL = {"success", "failed"}


class Api:
    """A small client of Airflow's public REST API (JWT from the simple auth manager)."""

    def __init__(self, base_url: str, user: str, password: str) -> None:
        self.base_url, self.user, self.password = base_url, user, password
        self.token: str | None = None

    def _login(self) -> None:
        body = json.dumps({"username": self.user, "password": self.password}).encode()
        request = urllib.request.Request(self.base_url + "/auth/token", data=body,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            self.token = json.loads(response.read())["access_token"]

    def request(self, method: str, path: str, body=None):
        if self.token is None:
            self._login()
        data = json.dumps(body).encode() if body is not None else None
        for attempt in range(2):
            request = urllib.request.Request(
                self.base_url + path, data=data, method=method,
                headers={"Authorization": f"Bearer {self.token}",
                         "Content-Type": "application/json",
                         "Accept": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=60) as response:
                    payload = response.read()
                    return json.loads(payload) if payload else None
            except urllib.error.HTTPError as error:
                if error.code == 401 and attempt == 0:
                    self._login()
                    continue
                raise AssertionError(
                    f"{method} {path} -> {error.code}: {error.read().decode()[:2000]}"
                ) from None

    def get(self, path: str):
        return self.request("GET", path)

    def post(self, path: str, body):
        return self.request("POST", path, body)

    def patch(self, path: str, body):
        return self.request("PATCH", path, body)

    def delete(self, path: str):
        return self.request("DELETE", path)

    # --- the DAG runs of the nightly template -------------------------------------------
    def trigger(self, logical_date: dt.datetime, run_id: str, dag_id: str = DAG_ID) -> dict:
        stamp = logical_date.isoformat()
        return self.post(f"/api/v2/dags/{dag_id}/dagRuns", {
            "dag_run_id": run_id, "logical_date": stamp, "run_after": stamp})

    def run(self, run_id: str, dag_id: str = DAG_ID) -> dict:
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id)}")

    def wait(self, run_id: str, timeout: float = 900, dag_id: str = DAG_ID) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.run(run_id, dag_id)["state"]
            if state in TERMINAL:
                return state
            time.sleep(3)
        raise AssertionError(f"{run_id} not finished after {timeout:.0f}s: "
                             f"{self.explain(run_id, dag_id)}")

    def task_instances(self, run_id: str, dag_id: str = DAG_ID) -> list[dict]:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id)}/taskInstances"
        return self.get(path)["task_instances"]

    def task_states(self, run_id: str, dag_id: str = DAG_ID) -> dict[str, str | None]:
        return {ti["task_id"]: ti["state"] for ti in self.task_instances(run_id, dag_id)}

    def explain(self, run_id: str, dag_id: str = DAG_ID, lines: int = 25) -> str:
        """Why a run ended as it did: every task's state and try, failed ones first, each
        failed try with the last ``lines`` events of its log."""
        tis = sorted(self.task_instances(run_id, dag_id), key=lambda ti: ti["state"] != "failed")
        parts = [", ".join(f"{ti['task_id']}={ti['state']}(try {ti['try_number']})" for ti in tis)]
        for ti in tis:
            if ti["state"] == "failed":
                parts.append(f"--- {ti['task_id']} try {ti['try_number']}:")
                try:  # the explanation must never hide the failure it explains
                    events = self.log_events(run_id, ti["task_id"], ti["try_number"], dag_id)
                except AssertionError as error:
                    parts.append(f"(log not readable: {error})")
                    continue
                parts += [_event_text(event)[:500] for event in events[-lines:]]
        return "\n".join(parts)

    def task(self, run_id: str, task_id: str, dag_id: str = DAG_ID) -> dict:
        return next(ti for ti in self.task_instances(run_id, dag_id) if ti["task_id"] == task_id)

    def xcom(self, run_id: str, task_id: str, dag_id: str = DAG_ID):
        path = (f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id)}/taskInstances/"
                f"{task_id}/xcomEntries/return_value?deserialize=true")
        return self.get(path)["value"]

    def wait_task(self, run_id: str, task_id: str, states: set[str], timeout: float = 600,
                  dag_id: str = DAG_ID) -> dict:
        """Poll until ``task_id`` is in one of ``states``; fail early if it ends elsewhere."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ti = self.task(run_id, task_id, dag_id)
            if ti["state"] in states:
                return ti
            if ti["state"] in {"success", "failed", "upstream_failed", "skipped"}:
                raise AssertionError(f"{task_id} ended {ti['state']}, not one of {states}: "
                                     f"{self.task_states(run_id, dag_id)}")
            time.sleep(0.5)
        raise AssertionError(f"{task_id} not in {states} after {timeout:.0f}s: "
                             f"{self.task_states(run_id, dag_id)}")

    def unpause(self, dag_id: str, timeout: float = 180) -> None:
        """Wait until the dag-processor has parsed ``dag_id``, then unpause it."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.get(f"/api/v2/dags/{dag_id}")
                break
            except AssertionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(3)
        self.patch(f"/api/v2/dags/{dag_id}", {"is_paused": False})

    def fresh_dag(self, dag_id: str, timeout: float = 180) -> None:
        """:meth:`unpause` ``dag_id`` and delete its runs."""
        self.unpause(dag_id, timeout)
        self.delete_runs(dag_id)

    def delete_runs(self, dag_id: str) -> None:
        """Delete every run of ``dag_id``; one still running (an aborted session's) fails first."""
        for run in self.get(f"/api/v2/dags/{dag_id}/dagRuns?limit=100")["dag_runs"]:
            path = f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run['dag_run_id'])}"
            if run["state"] not in TERMINAL:
                self.patch(path, {"state": "failed"})
            self.delete(path)

    def set_pool(self, name: str, slots: int) -> None:
        """Create pool ``name`` or change its slots (0 slots: its tasks wait, scheduled)."""
        try:
            self.patch(f"/api/v2/pools/{name}?update_mask=slots",
                       {"pool": name, "slots": slots, "include_deferred": False})
        except AssertionError as error:
            if "-> 404" not in str(error):
                raise
            self.post("/api/v2/pools", {"name": name, "slots": slots})

    def log_events(self, run_id: str, task_id: str, try_number: int,
                   dag_id: str = DAG_ID) -> list[dict]:
        """The task try's whole log, as the UI shows it: its structured events."""
        path = (f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id)}/taskInstances/"
                f"{task_id}/logs/{try_number}?full_content=true")
        return self.get(path)["content"]

    def log(self, run_id: str, task_id: str, try_number: int, dag_id: str = DAG_ID) -> str:
        """The task try's whole log as JSON lines, one event each."""
        return "\n".join(json.dumps(event) for event in self.log_events(
            run_id, task_id, try_number, dag_id))


def _event_text(event: dict) -> str:
    """A log event's message, with the exception it carries (Airflow keeps that apart)."""
    errors = [f"{e.get('exc_type')}: {e.get('exc_value')}" for e in event.get("error_detail") or []]
    return " | ".join([str(event.get("event", event)), *errors])


@pytest.fixture(scope="session")
def stack_env() -> dict[str, str]:
    env_file = STACK_DIR / "env.json"
    if not env_file.exists():
        pytest.fail(f"no stack at {STACK_DIR}: start it with `make stack-up`")
    env = json.loads(env_file.read_text())
    try:
        urllib.request.urlopen(env["STACK_API_URL"] + "/api/v2/monitor/health", timeout=5)
    except OSError as error:
        pytest.fail(f"the stack's api-server does not answer ({error}): `make stack-up`")
    return env


@pytest.fixture(scope="session")
def api(stack_env) -> Api:
    client = Api(stack_env["STACK_API_URL"], stack_env["STACK_ADMIN_USER"],
                 stack_env["STACK_ADMIN_PASSWORD"])
    client.unpause(DAG_ID)
    return client


@pytest.fixture(scope="session")
def mlflow_client(stack_env):
    from mlflow import MlflowClient

    return MlflowClient(stack_env["STACK_MLFLOW_URL"], stack_env["STACK_MLFLOW_URL"])


@pytest.fixture
def clean_model(api, mlflow_client, stack_env):
    """No runs of the nightly DAG in flight, no registered ``churn`` model, no partitions."""
    from mlflow.exceptions import MlflowException

    api.delete_runs(DAG_ID)
    try:
        mlflow_client.delete_registered_model(MODEL)
    except MlflowException:
        pass
    shutil.rmtree(Path(stack_env["AIRFLOW_MLOPS_DATA_ROOT"]) / "customers", ignore_errors=True)
    return mlflow_client


@pytest.fixture
def run_id():
    """Run ids unique across sessions: the registry and the ledger key on them."""
    nonce = uuid.uuid4().hex[:8]
    return lambda label: f"stack__{label}__{nonce}"


@pytest.fixture(scope="session")
def customers():
    import pandas as pd

    return pd.read_csv(REPO / "demo" / "data" / "customers.csv")


@pytest.fixture
def land(stack_env):
    def land(frame, logical_date: dt.datetime) -> Path:
        root = Path(stack_env["AIRFLOW_MLOPS_DATA_ROOT"])
        path = root / "customers" / f"ds={logical_date:%Y-%m-%d}" / "customers.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(path, index=False)
        return path

    return land


@pytest.fixture
def ledger_moves(clean_model):
    """The champion moves the alias ledger records for some DAG runs, oldest first."""
    from airflow_mlops.core import ledger
    from airflow_mlops.core.registry import CHAMPION

    def moves(*run_ids: str) -> list:
        entries = ledger.history(clean_model, MODEL, alias=CHAMPION, max_results=1000)
        return [e for e in reversed(entries) if e.dag_run_id in run_ids]

    return moves


@pytest.fixture
def metadata_db(stack_env):
    """A psycopg2 connection (autocommit) to the stack's Airflow metadata database."""
    import psycopg2

    url = stack_env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    conn = psycopg2.connect(url.replace("postgresql+psycopg2://", "postgresql://"))
    conn.autocommit = True
    yield conn
    conn.close()


@pytest.fixture
def mlflow_up(stack_env):
    """Wait until the MLflow tracking server answers again."""

    def wait(timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(stack_env["STACK_MLFLOW_URL"] + "/health", timeout=3)
                return
            except OSError:
                time.sleep(1)
        raise AssertionError(f"MLflow server not back after {timeout:.0f}s")

    return wait


@pytest.fixture
def stack_ctl(stack_env):
    """Stop, start or restart stack components (``python stack/stack.py restart worker``)."""

    def ctl(action: str, *components: str) -> None:
        subprocess.run([sys.executable, str(REPO / "stack" / "stack.py"), action, *components],
                       check=True, env={**os.environ, "STACK_DIR": str(STACK_DIR)})

    return ctl
