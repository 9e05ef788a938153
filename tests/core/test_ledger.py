"""Tests for the alias ledger: durable, append-only alias moves in MLflow."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from mlflow import MlflowClient

from airflow_mlops.core import ledger
from airflow_mlops.core.errors import RegistryError

RUN = {"dag_id": "nightly_retrain_churn", "run_id": "scheduled__2026-03-01"}


@pytest.fixture
def client(mlflow_session) -> MlflowClient:
    return MlflowClient()


def move(client, to_version, *, model="churn", alias="champion", from_version=None,
         lineage=RUN, action="promote", done=True):
    entry = ledger.begin(client, model=model, alias=alias, from_version=from_version,
                         to_version=to_version, action=action, reason=f"to {to_version}",
                         lineage=lineage)
    time.sleep(0.005)  # distinct start times, so the order is defined
    return ledger.finish(client, entry) if done else entry


def test_an_entry_records_who_moved_what_when_and_why(client):
    before = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)

    entry = move(client, "2", from_version="1")

    run = client.get_run(entry.entry_id)
    assert client.get_experiment(run.info.experiment_id).name == ledger.LEDGER_EXPERIMENT
    assert run.info.status == ledger.DONE
    assert run.data.tags["model"] == "churn"
    assert (run.data.tags["from_version"], run.data.tags["to_version"]) == ("1", "2")
    assert (entry.dag_id, entry.dag_run_id, entry.action) == (*RUN.values(), "promote")
    assert entry.reason == "to 2"
    assert entry.done
    assert before <= entry.time <= dt.datetime.now(dt.timezone.utc)


def test_an_entry_is_in_progress_until_finished(client):
    entry = move(client, "1", done=False)

    found = ledger.find(client, "churn", entry.key)
    assert (found.status, found.done) == (ledger.IN_PROGRESS, False)
    assert ledger.finish(client, found, ledger.ABANDONED).status == ledger.ABANDONED
    assert ledger.find(client, "churn", entry.key).status == ledger.ABANDONED


def test_find_by_the_key_of_model_alias_action_and_dag_run(client):
    entry = move(client, "1")

    assert ledger.find(client, "churn", entry.key) == entry
    assert entry.key == ledger.entry_key("churn", "champion", "promote", {**RUN, "task_id": "x"})
    for other in (ledger.entry_key("churn", "champion", "rollback", RUN),
                  ledger.entry_key("churn", "challenger", "promote", RUN),
                  ledger.entry_key("churn", "champion", "promote", {**RUN, "run_id": "r2"}),
                  ledger.entry_key("fraud", "champion", "promote", RUN)):
        assert ledger.find(client, "churn", other) is None


def test_history_is_newest_first_per_model_and_alias(client):
    move(client, "1")
    move(client, "2", from_version="1", lineage={**RUN, "run_id": "r2"})
    move(client, "2", alias="challenger", action="train")
    move(client, "7", model="fraud")

    everything = ledger.history(client, "churn")
    champion = ledger.history(client, "churn", alias="champion")

    assert [(e.alias, e.to_version) for e in everything] == [
        ("challenger", "2"), ("champion", "2"), ("champion", "1"),
    ]
    assert [e.to_version for e in champion] == ["2", "1"]
    assert [e.to_version for e in ledger.history(client, "churn", max_results=1)] == ["2"]


def test_history_without_a_ledger_is_empty(client):
    assert ledger.history(client, "churn") == []
    assert ledger.find(client, "churn", "0" * 32) is None
    assert client.get_experiment_by_name(ledger.LEDGER_EXPERIMENT) is None


def test_alias_at_answers_what_was_in_production_at_a_time(client):
    first = move(client, "1")
    second = move(client, "2", from_version="1", lineage={**RUN, "run_id": "r2"})
    move(client, "3", from_version="2", lineage={**RUN, "run_id": "r3"}, done=False)

    assert ledger.alias_at(client, "churn", "champion", first.time - dt.timedelta(seconds=1)) \
        is None
    assert ledger.alias_at(client, "churn", "champion", first.time) == "1"
    assert ledger.alias_at(client, "churn", "champion", second.time) == "2"
    now = dt.datetime.now(dt.timezone.utc)
    assert ledger.alias_at(client, "churn", "champion", now) == "2"  # v3's move never finished


def test_entries_serialise_to_json_types(client):
    entry = move(client, "1")

    assert entry.to_dict() == {
        "entry_id": entry.entry_id, "time": entry.time.isoformat(), "model": "churn",
        "alias": "champion", "from_version": None, "to_version": "1", "action": "promote",
        "dag_id": RUN["dag_id"], "dag_run_id": RUN["run_id"], "reason": "to 1",
        "key": entry.key, "status": ledger.DONE,
    }


def test_a_deleted_ledger_is_named(client):
    move(client, "1")
    client.delete_experiment(client.get_experiment_by_name(ledger.LEDGER_EXPERIMENT)
                             .experiment_id)

    with pytest.raises(RegistryError, match="experiment 'airflow-mlops/ledger' .* is deleted"):
        ledger.history(client, "churn")


def test_names_with_quotes_are_refused(client):
    with pytest.raises(RegistryError, match="single quote"):
        ledger.history(client, "it's")
