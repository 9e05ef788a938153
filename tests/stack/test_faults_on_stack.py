"""Faults injected into the running stack: nothing is lost, nothing is duplicated."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from airflow_mlops.core.registry import CHAMPION, alias_version, tag

pytestmark = pytest.mark.stack

MODEL = "churn"


def wait_for_training_run(client, run_id: str, timeout: float = 600) -> None:
    """Poll until ``train`` of DAG run ``run_id`` has started its MLflow run: it is fitting
    and logging, and has not registered a version yet (that takes it seconds more)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        experiments = [e.experiment_id for e in client.search_experiments()]
        if experiments and client.search_runs(experiments, filter_string=(
                f"tags.`{tag('run_id')}` = '{run_id}' and tags.`{tag('task_id')}` = 'train'")):
            return
        time.sleep(0.1)
    raise AssertionError(f"no MLflow run of {run_id} after {timeout:.0f}s")


def test_worker_killed_during_training(api, clean_model, land, customers, run_id, stack_ctl):
    """SIGKILL the Celery worker (and the task in it) while ``train`` runs: the scheduler
    notices the lost heartbeat, the task is retried on the restarted worker, and the retry
    leaves exactly one model version, which becomes champion."""
    client = clean_model
    night = dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc)
    rid = run_id("worker-killed")
    land(customers.iloc[: len(customers) // 3], night)
    api.trigger(night, rid)

    wait_for_training_run(client, rid)  # into the fit and the MLflow logging
    stack_ctl("kill", "worker")
    try:
        assert api.task(rid, "train")["state"] == "running"  # nobody knows yet
    finally:
        stack_ctl("start", "worker")

    assert api.wait(rid, timeout=1200) == "success", api.explain(rid)
    assert api.task(rid, "train")["try_number"] >= 2, "the killed try was retried"
    versions = client.search_model_versions(f"name='{MODEL}'")
    assert [str(v.version) for v in versions] == ["1"], "exactly one version for the run"
    assert versions[0].tags[tag("run_id")] == rid
    assert alias_version(client, MODEL, CHAMPION) == "1"
