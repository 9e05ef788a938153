"""The triggerer restarts while the data sensor is deferred: the new triggerer takes the
trigger over, the partition lands, the sensor resumes and the night runs to the end."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from airflow_mlops.core.registry import CHAMPION, alias_version, tag

pytestmark = pytest.mark.stack

MODEL = "churn"
DAG = "stack_retrain_churn_deferrable"


def trigger_owner(db, run_id: str):
    """(triggerer job id, its start) of the run's deferred sensor, or None."""
    with db.cursor() as cur:
        cur.execute(
            "SELECT j.id, j.start_date FROM task_instance ti JOIN trigger t ON t.id = ti.trigger_id"
            " JOIN job j ON j.id = t.triggerer_id"
            " WHERE ti.run_id = %s AND ti.task_id = 'wait_for_data'", (run_id,))
        return cur.fetchone()


def test_triggerer_restarted_while_sensor_deferred(api, clean_model, land, customers, run_id,
                                                   stack_ctl, metadata_db):
    client = clean_model
    api.fresh_dag(DAG)
    night = dt.datetime(2026, 7, 3, tzinfo=dt.timezone.utc)
    rid = run_id("triggerer-restart")
    api.trigger(night, rid, dag_id=DAG)  # no partition yet
    api.wait_task(rid, "wait_for_data", {"deferred"}, timeout=300, dag_id=DAG)
    deadline = time.monotonic() + 60
    while (before := trigger_owner(metadata_db, rid)) is None and time.monotonic() < deadline:
        time.sleep(1)
    assert before is not None, "no triggerer took the trigger"

    stack_ctl("restart", "triggerer")
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        after = trigger_owner(metadata_db, rid)
        if after is not None and after[0] != before[0]:
            break
        time.sleep(2)
    else:
        raise AssertionError(f"the restarted triggerer did not take the trigger over: {after}")
    assert after[1] > before[1], "taken over by a newer triggerer"
    assert api.task(rid, "wait_for_data", dag_id=DAG)["state"] == "deferred"

    land(customers.iloc[: len(customers) // 3], night)
    api.wait_task(rid, "wait_for_data", {"success"}, timeout=180, dag_id=DAG)
    assert api.wait(rid, dag_id=DAG) == "success", api.explain(rid, dag_id=DAG)
    assert api.task(rid, "wait_for_data", dag_id=DAG)["try_number"] == 1, "resumed, not retried"
    versions = client.search_model_versions(f"name='{MODEL}'")
    assert [str(v.version) for v in versions] == ["1"]
    assert versions[0].tags[tag("run_id")] == rid
    assert alias_version(client, MODEL, CHAMPION) == "1"
