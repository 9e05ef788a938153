"""The MLflow tracking server stops while a run promotes: the try fails, Airflow retries it,
and once the server is back the champion moves exactly once.

The DAG (tests/stack/dags/stack_mlflow_outage.py) is nightly_retrain_churn with promotions
held in a pool the test opens and closes, so the outage hits ``promote`` and nothing else.
"""

from __future__ import annotations

import datetime as dt

import pytest

from airflow_mlops.core.registry import CHAMPION, alias_version, tag

pytestmark = pytest.mark.stack

MODEL = "churn"
DAG = "stack_retrain_churn_mlflow_outage"
GATE = "stack_gate_outage"


def test_mlflow_down_during_promotion(api, clean_model, land, customers, run_id, stack_ctl,
                                      mlflow_up, ledger_moves):
    client = clean_model
    api.set_pool(GATE, 0)
    api.fresh_dag(DAG)
    night = dt.datetime(2026, 7, 1, tzinfo=dt.timezone.utc)
    rid = run_id("mlflow-outage")
    land(customers.iloc[: len(customers) // 3], night)
    api.trigger(night, rid, dag_id=DAG)

    api.wait_task(rid, "promote", {"scheduled"}, timeout=900, dag_id=DAG)  # held by the pool
    decision = api.xcom(rid, "evaluate", dag_id=DAG)
    version = decision["challenger_version"]
    assert decision["verdict"] == "promote" and decision["champion_version"] is None
    assert alias_version(client, MODEL, CHAMPION) is None

    stack_ctl("stop", "mlflow")
    try:
        api.set_pool(GATE, 1)
        api.wait_task(rid, "promote", {"up_for_retry"}, timeout=300, dag_id=DAG)
        api.set_pool(GATE, 0)  # the retry waits until the registry was looked at
    finally:
        stack_ctl("start", "mlflow")
        mlflow_up()

    first_try = api.log(rid, "promote", 1, dag_id=DAG).lower()
    assert "connection refused" in first_try or "connectionerror" in first_try, first_try[-2000:]
    assert api.task(rid, "promote", dag_id=DAG)["state"] in {"up_for_retry", "scheduled"}
    assert alias_version(client, MODEL, CHAMPION) is None, "a failed try moved the champion"
    assert ledger_moves(rid) == [], "a failed try left a ledger entry"

    api.set_pool(GATE, 1)
    assert api.wait(rid, dag_id=DAG) == "success", api.explain(rid, dag_id=DAG)
    assert api.task(rid, "promote", dag_id=DAG)["try_number"] >= 2

    moves = ledger_moves(rid)
    assert [(m.from_version, m.to_version, m.status) for m in moves] == [
        (None, version, "FINISHED")], "exactly one completed champion move"
    assert alias_version(client, MODEL, CHAMPION) == version
    assert [str(v.version) for v in client.search_model_versions(f"name='{MODEL}'")] == [version]
    tags = client.get_model_version(MODEL, version).tags
    assert tags[tag("status")] == "champion"
    assert tags[tag("promoted_by")] == f"{DAG}/{rid}"
    assert api.xcom(rid, "summary", dag_id=DAG)["champion_after"] == version
