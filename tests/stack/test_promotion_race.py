"""Two DAGs of one model promote for the same night against the same champion: the
compare-and-set lets exactly one move the champion; the other's promote fails, unretried.

``max_active_runs=1`` serialises runs of one DAG, so the race needs a second DAG of the
model: nightly_retrain_churn_twin (tests/stack/dags/stack_twin.py), whose promotions wait in
a pool the test opens only after the real DAG has promoted. Both evaluated against the
same champion, so this is the interleaving a real race can produce, made deterministic.
"""

from __future__ import annotations

import datetime as dt

import pytest

from airflow_mlops.core.registry import CHAMPION, alias_version, tag

pytestmark = pytest.mark.stack

MODEL = "churn"
TWIN = "nightly_retrain_churn_twin"
GATE = "stack_gate_twin"


def test_two_dags_race_to_promote(api, clean_model, land, customers, run_id, ledger_moves):
    client = clean_model
    api.set_pool(GATE, 0)
    api.fresh_dag(TWIN)
    night = dt.datetime(2026, 7, 2, tzinfo=dt.timezone.utc)
    twin_run, real_run = run_id("race-twin"), run_id("race-real")
    land(customers.iloc[: len(customers) // 3], night)

    api.trigger(night, twin_run, dag_id=TWIN)
    api.wait_task(twin_run, "promote", {"scheduled"}, timeout=900, dag_id=TWIN)
    api.trigger(night, real_run)
    assert api.wait(real_run) == "success", api.explain(real_run)

    twin, real = api.xcom(twin_run, "evaluate", dag_id=TWIN), api.xcom(real_run, "evaluate")
    assert twin["champion_version"] == real["champion_version"] is None, "same champion"
    assert twin["verdict"] == real["verdict"] == "promote"
    winner, loser = real["challenger_version"], twin["challenger_version"]
    assert winner != loser
    assert alias_version(client, MODEL, CHAMPION) == winner

    api.set_pool(GATE, 1)
    assert api.wait(twin_run, dag_id=TWIN) == "failed"
    states = api.task_states(twin_run, dag_id=TWIN)
    assert states["promote"] == "failed"
    assert states["summary"] == "upstream_failed"
    assert api.task(twin_run, "promote", dag_id=TWIN)["try_number"] == 1, "a lost CAS: no retry"
    text = api.log(twin_run, "promote", 1, dag_id=TWIN)
    assert f"champion is version {winner}, but the evaluation compared against None" in text
    assert "nothing was moved" in text

    moves = ledger_moves(twin_run, real_run)
    assert [(m.dag_id, m.dag_run_id, m.to_version, m.status) for m in moves] == [
        ("nightly_retrain_churn", real_run, winner, "FINISHED")], "exactly one champion move"
    assert alias_version(client, MODEL, CHAMPION) == winner
    versions = {str(v.version): v.tags for v in client.search_model_versions(f"name='{MODEL}'")}
    assert sorted(versions) == sorted([winner, loser])
    assert versions[winner][tag("status")] == "champion"
    assert versions[loser][tag("run_id")] == twin_run
    assert versions[loser][tag("status")] == "conflict", "the lost compare-and-set is recorded"
    assert "nothing was moved" in versions[loser][tag("conflict")]
    assert versions[loser][tag("conflict_by")] == f"{TWIN}/{twin_run}"
