"""Model states read from a real MLflow store, and the short-lived cache in front of them."""

from __future__ import annotations

from contextlib import contextmanager

import pytest

from airflow_mlops.core import registry
from airflow_mlops.plugins.registry_state import StateCache, read_state


@pytest.fixture(scope="module")
def champion(store):
    """Model ``churn`` with v1 promoted and v2 trained (the challenger)."""
    from mlflow import MlflowClient

    first, second = store(), store()
    client = MlflowClient()
    registry.promote(client, "churn", first, expected_champion=None,
                     lineage={"dag_id": "d", "run_id": f"r{first}"})
    return client, first, second


def test_state_has_aliases_and_ledger(champion):
    client, first, second = champion

    state = read_state(client, "churn", "trained")

    assert state.registered
    assert state.aliases[registry.CHAMPION] == first
    assert state.aliases[registry.CHALLENGER] == second
    moves = {(entry.alias, entry.from_version, entry.to_version) for entry in state.ledger}
    assert moves == {(registry.CHAMPION, None, first), (registry.CHALLENGER, None, first),
                     (registry.CHALLENGER, first, second)}
    assert state.drift is None


def test_an_unknown_model_is_not_an_error(champion):
    client, _, _ = champion

    state = read_state(client, "nobody", "airflow-mlops/nobody")

    assert not state.registered and state.error is None


def test_cache_reads_each_model_once_per_lifetime(champion):
    client, _, _ = champion
    now, connects = [0.0], []

    @contextmanager
    def connect(conn_id):
        connects.append(conn_id)
        yield client

    cache = StateCache(connect, ttl=30, clock=lambda: now[0])
    wanted = [("mlflow_default", "churn", "trained")]

    first = cache.states(wanted)["churn"]
    now[0] = 29
    assert cache.states(wanted)["churn"] is first
    assert connects == ["mlflow_default"]
    now[0] = 31
    assert cache.states(wanted)["churn"] is not first
    assert connects == ["mlflow_default"] * 2


def test_an_unreachable_server_is_shown_not_raised():
    @contextmanager
    def connect(conn_id):
        raise ConnectionError("tracking server down")
        yield

    state = StateCache(connect).states([("mlflow_default", "churn", "e")])["churn"]

    assert "tracking server down" in state.error
