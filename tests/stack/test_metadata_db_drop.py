"""Every connection to the Airflow metadata DB is terminated while a night trains and again
while it evaluates: Airflow reconnects (a component that exits on the lost connection is started
again by the stack's supervisor), the night finishes, nothing is duplicated."""

from __future__ import annotations

import datetime as dt
import os
import time

import pytest

from airflow_mlops.core.registry import CHAMPION, alias_version, tag

pytestmark = pytest.mark.stack

MODEL = "churn"
COMPONENTS = ("mlflow", "api-server", "scheduler", "dag-processor", "triggerer", "worker")


def drop_connections(db) -> int:
    """Terminate every other backend connected to the Airflow database; how many."""
    with db.cursor() as cur:
        cur.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()")
        return cur.fetchone()[0]


def wait_running(api, run_id: str, task_id: str, timeout: float = 600) -> None:
    """Like api.wait_task, tolerating API errors while Airflow reconnects."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return api.wait_task(run_id, task_id, {"running"}, timeout=timeout)
        except (AssertionError, OSError) as error:
            if "ended" in str(error):
                raise
            time.sleep(2)
    raise AssertionError(f"{task_id} never ran")


def wait_healthy(api, components: tuple[str, ...], timeout: float = 180) -> None:
    """Wait until Airflow's health endpoint reports every component healthy."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            health = api.get("/api/v2/monitor/health")
        except (AssertionError, OSError):  # the api-server may be starting again
            health = {}
        sick = [c for c in components if (health.get(c) or {}).get("status") != "healthy"]
        if not sick:
            return
        assert time.monotonic() < deadline, f"not healthy again: {sick} ({health})"
        time.sleep(3)


def alive(stack_dir, name: str) -> bool:
    pid_file = stack_dir / "pids" / f"{name}.pid"
    try:
        os.kill(int(pid_file.read_text()), 0)
    except (FileNotFoundError, ProcessLookupError):
        return False
    return True


def test_metadata_db_connections_dropped(api, clean_model, land, customers, run_id,
                                         metadata_db, stack_env, ledger_moves):
    from pathlib import Path

    client = clean_model
    night = dt.datetime(2026, 7, 4, tzinfo=dt.timezone.utc)
    rid = run_id("db-dropped")
    land(customers.iloc[: len(customers) // 3], night)
    api.trigger(night, rid)

    dropped = []
    for task_id in ("train", "evaluate"):
        wait_running(api, rid, task_id)
        time.sleep(3)
        dropped.append(drop_connections(metadata_db))
    assert all(n > 0 for n in dropped), dropped

    deadline = time.monotonic() + 1200
    state = None
    while time.monotonic() < deadline and state not in {"success", "failed"}:
        try:
            state = api.run(rid)["state"]
        except (AssertionError, OSError):  # the api-server reconnects or starts again
            pass
        time.sleep(3)
    assert state == "success", api.explain(rid)

    stack_dir = Path(stack_env["STACK_DIR"])
    assert [n for n in COMPONENTS if not alive(stack_dir, n)] == [], "a supervisor died"
    wait_healthy(api, ("scheduler", "dag_processor", "triggerer"))
    versions = client.search_model_versions(f"name='{MODEL}'")
    assert [str(v.version) for v in versions] == ["1"], "exactly one version"
    assert versions[0].tags[tag("run_id")] == rid
    assert alias_version(client, MODEL, CHAMPION) == "1"
    assert [(m.to_version, m.status) for m in ledger_moves(rid)] == [("1", "FINISHED")]
