"""Model states read from a real MLflow store, and the short-lived cache in front of them."""

from __future__ import annotations

import threading
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


class Gated:
    """Connections to the store that wait for ``gate`` after the first, counting how many are
    open at once; ``broken`` makes them fail."""

    def __init__(self, client):
        self.client, self.gate, self.waiting = client, threading.Event(), threading.Event()
        self.opened, self.open, self.most_open, self.broken = 0, 0, 0, False

    @contextmanager
    def __call__(self, conn_id):
        self.opened += 1
        self.open += 1
        self.most_open = max(self.most_open, self.open)
        try:
            if self.opened > 1:
                self.waiting.set()
                assert self.gate.wait(30)
            if self.broken:
                raise ConnectionError("tracking server down")
            yield self.client
        finally:
            self.open -= 1


WANTED = [("mlflow_default", "churn", "trained")]


def test_a_lapsed_state_is_served_while_one_refresh_reads_it_again(champion):
    client, first, _ = champion
    now, connect = [0.0], Gated(client)
    cache = StateCache(connect, ttl=30, clock=lambda: now[0])

    read = cache.states(WANTED)["churn"]
    now[0] = 29
    assert cache.states(WANTED)["churn"] is read
    assert connect.opened == 1, "within its lifetime a state is not read again"
    now[0] = 31
    served = [cache.states(WANTED)["churn"] for _ in range(5)]

    assert all(state is read for state in served), "the lapsed state is served at once"
    assert connect.waiting.wait(30)
    assert cache.states(WANTED)["churn"] is read
    assert connect.opened == 2 and connect.most_open == 1, "one refresh at a time"
    connect.gate.set()
    assert cache.wait_idle(30)
    refreshed = cache.states(WANTED)["churn"]
    assert refreshed is not read and refreshed.read_at > read.read_at
    assert refreshed.aliases[registry.CHAMPION] == first and refreshed.refresh_error is None
    assert connect.opened == 2


def test_a_failed_refresh_keeps_the_last_good_state_and_says_why(champion):
    client, first, _ = champion
    now, connect = [0.0], Gated(client)
    connect.gate.set()
    cache = StateCache(connect, ttl=30, clock=lambda: now[0])
    read = cache.states(WANTED)["churn"]

    connect.broken, now[0] = True, 31
    assert cache.states(WANTED)["churn"] is read
    assert cache.wait_idle(30)
    kept = cache.states(WANTED)["churn"]

    assert kept.aliases[registry.CHAMPION] == first and kept.error is None
    assert kept.read_at == read.read_at
    assert "tracking server down" in kept.refresh_error
    connect.broken, now[0] = False, 62
    cache.states(WANTED)
    assert cache.wait_idle(30)
    assert cache.states(WANTED)["churn"].refresh_error is None, "a good read clears it"


def test_a_model_registered_later_appears_at_the_next_request(champion):
    client, _, _ = champion
    connect = Gated(client)
    connect.gate.set()
    cache = StateCache(connect, ttl=30, clock=lambda: 0.0)
    wanted = [("mlflow_default", "late", "airflow-mlops/late")]
    assert not cache.states(wanted)["late"].registered

    client.create_registered_model("late")

    assert cache.states(wanted)["late"].registered, "within the lifetime of the first read"


def test_a_state_read_before_the_model_changed_is_read_again(champion):
    import datetime as dt

    client, _, _ = champion
    connect = Gated(client)
    connect.gate.set()
    cache = StateCache(connect, ttl=30, clock=lambda: 0.0)
    read = cache.states(WANTED)["churn"]

    changed = dt.datetime.now(dt.timezone.utc)  # a night ended after the read
    again = cache.states(WANTED, changed_at={"churn": changed})["churn"]
    assert again is not read and connect.opened == 2
    assert cache.states(WANTED, changed_at={"churn": changed})["churn"] is again, "once"


def test_the_warmed_snapshot_is_served_without_reading(champion):
    client, first, _ = champion
    connect = Gated(client)
    connect.gate.set()
    cache = StateCache(connect, ttl=30, clock=lambda: 0.0)

    cache.warm(WANTED)
    assert cache.wait_idle(30)
    assert cache.states(WANTED)["churn"].aliases[registry.CHAMPION] == first
    assert connect.opened == 1


def test_a_champion_without_a_card_has_no_card(champion):
    client, _, _ = champion

    assert read_state(client, "churn", "trained").champion_card is None


def test_an_unreachable_server_is_shown_not_raised():
    @contextmanager
    def connect(conn_id):
        raise ConnectionError("tracking server down")
        yield

    state = StateCache(connect).states([("mlflow_default", "churn", "e")])["churn"]

    assert "tracking server down" in state.error
