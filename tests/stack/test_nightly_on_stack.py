"""The nightly template on the production-like stack, triggered through Airflow's REST API.

CeleryExecutor + PostgreSQL + Redis + an MLflow tracking server (``make stack-up``).
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from airflow_mlops.core.registry import CHALLENGER, CHAMPION, PREVIOUS_CHAMPION, alias_version, tag

pytestmark = pytest.mark.stack

MODEL = "churn"


def day(month: int, d: int) -> dt.datetime:
    return dt.datetime(2026, month, d, tzinfo=dt.timezone.utc)


def versions(client) -> list[str]:
    return sorted(str(v.version) for v in client.search_model_versions(f"name='{MODEL}'"))


def test_nights_promote_then_compare(api, clean_model, land, customers, run_id, stack_env):
    client = clean_model
    size = len(customers) // 3
    nights = [day(4, 1), day(4, 2)]
    runs = [run_id(f"night{i}") for i in (1, 2)]
    for i, night in enumerate(nights):
        land(customers.iloc[i * size:(i + 1) * size], night)
    # Both triggered at once: max_active_runs=1 makes them run one after the other.
    for night, rid in zip(nights, runs, strict=True):
        api.trigger(night, rid)

    assert api.wait(runs[0]) == "success", api.explain(runs[0])
    assert api.wait(runs[1]) == "success", api.explain(runs[1])

    assert versions(client) == ["1", "2"]
    v1, v2 = client.get_model_version(MODEL, "1"), client.get_model_version(MODEL, "2")
    assert v1.tags[tag("run_id")] == runs[0]
    assert v1.tags[tag("decision")] == "promote"
    assert v2.tags[tag("run_id")] == runs[1]
    assert v2.tags[tag("compared_to")] == "1"
    assert alias_version(client, MODEL, CHALLENGER) == "2"
    states = api.task_states(runs[1])
    if v2.tags[tag("decision")] == "promote":
        assert alias_version(client, MODEL, CHAMPION) == "2"
        assert alias_version(client, MODEL, PREVIOUS_CHAMPION) == "1"
        assert states["reject"] == "skipped"
    else:
        assert alias_version(client, MODEL, CHAMPION) == "1"
        assert states["promote"] == "skipped"

    summary = api.xcom(runs[1], "summary")
    assert summary["challenger_version"] == "2"
    assert summary["champion_after"] == alias_version(client, MODEL, CHAMPION)

    # The MLflow password of the connection never reaches a task log or an XCom.
    password = json.loads(stack_env["AIRFLOW_CONN_MLFLOW_DEFAULT"])["password"]
    for task_id in ("train", "evaluate", "promote" if states["promote"] == "success"
                    else "reject"):
        text = api.log(runs[1], task_id, 1)
        assert f"task_id={task_id}" in text, text[:500]
        assert password not in text
    assert password not in json.dumps(summary)


def test_corrupted_partition_is_blocked(api, clean_model, land, customers, run_id):
    client = clean_model
    size = len(customers) // 3
    good, bad = day(5, 1), day(5, 2)
    first, second = run_id("good"), run_id("corrupted")
    land(customers.iloc[:size], good)
    corrupted = customers.iloc[size:2 * size].copy()
    corrupted.loc[corrupted.index[:25], "tenure_months"] = -1
    land(corrupted, bad)

    api.trigger(good, first)
    assert api.wait(first) == "success", api.explain(first)
    champion = alias_version(client, MODEL, CHAMPION)
    assert champion == "1"

    api.trigger(bad, second)
    assert api.wait(second) == "failed"
    states = api.task_states(second)
    assert states["validate"] == "failed"
    assert states["train"] == "upstream_failed"
    assert api.task(second, "validate")["try_number"] == 1, "a data failure is not retried"
    assert versions(client) == ["1"]
    assert alias_version(client, MODEL, CHAMPION) == champion
