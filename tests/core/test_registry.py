"""Tests for the champion / challenger / previous_champion alias contract."""

from __future__ import annotations

import json

import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from airflow_mlops.core import ledger, registry
from airflow_mlops.core.errors import ChampionChangedError, RegistryError

MODEL = "churn"


@pytest.fixture
def client(mlflow_session, tmp_path) -> MlflowClient:
    """A client on the fresh store, with model MODEL holding versions 1, 2 and 3."""
    client = MlflowClient()
    registry.ensure_registered_model(client, MODEL)
    for number in range(3):
        client.create_model_version(MODEL, source=str(tmp_path / f"model{number}"))
    return client


def aliases(client: MlflowClient) -> dict[str, str]:
    return {alias: str(version)
            for alias, version in client.get_registered_model(MODEL).aliases.items()}


def test_alias_version_of_an_unset_alias_or_unknown_model_is_none(client):
    assert registry.alias_version(client, MODEL, registry.CHAMPION) is None
    assert registry.alias_version(client, "no-such-model", registry.CHAMPION) is None


def test_alias_version_is_a_string(client):
    client.set_registered_model_alias(MODEL, registry.CHAMPION, "2")

    assert registry.alias_version(client, MODEL, registry.CHAMPION) == "2"


def test_alias_version_does_not_mistake_an_outage_for_no_champion(monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    unreachable = MlflowClient("http://127.0.0.1:9", "http://127.0.0.1:9")

    with pytest.raises(MlflowException, match="API request"):
        registry.alias_version(unreachable, MODEL, registry.CHAMPION)


def test_promote_without_a_champion(client):
    result = registry.promote(client, MODEL, "1", expected_champion=None)

    assert result == {"model": MODEL, "champion": "1", "previous_champion": None, "moved": True}
    assert aliases(client) == {registry.CHAMPION: "1"}


def test_promote_keeps_the_old_champion_as_previous(client):
    registry.promote(client, MODEL, "1", expected_champion=None)

    result = registry.promote(client, MODEL, "2", expected_champion="1")

    assert result["moved"] is True
    assert aliases(client) == {registry.CHAMPION: "2", registry.PREVIOUS_CHAMPION: "1"}


def test_promote_refuses_when_the_champion_moved_since_evaluation(client):
    registry.promote(client, MODEL, "1", expected_champion=None)
    registry.promote(client, MODEL, "2", expected_champion="1")
    before = aliases(client)

    with pytest.raises(ChampionChangedError, match="champion is version 2, but the evaluation "
                                                   "compared against 1; nothing was moved"):
        registry.promote(client, MODEL, "3", expected_champion="1")

    assert aliases(client) == before


def test_promote_refuses_a_first_promotion_when_a_champion_appeared(client):
    client.set_registered_model_alias(MODEL, registry.CHAMPION, "1")

    with pytest.raises(ChampionChangedError):
        registry.promote(client, MODEL, "2", expected_champion=None)

    assert aliases(client) == {registry.CHAMPION: "1"}


def test_promote_is_idempotent(client):
    registry.promote(client, MODEL, "1", expected_champion=None)
    first = registry.promote(client, MODEL, "2", expected_champion="1")
    before = aliases(client)

    second = registry.promote(client, MODEL, "2", expected_champion="1")

    assert first["moved"] is True
    assert second == {**first, "moved": False}
    assert aliases(client) == before


def test_promote_completes_after_a_crash_between_its_writes(client):
    registry.promote(client, MODEL, "1", expected_champion=None)
    client.set_registered_model_alias(MODEL, registry.PREVIOUS_CHAMPION, "1")  # then crashed

    result = registry.promote(client, MODEL, "2", expected_champion="1")

    assert result["moved"] is True
    assert aliases(client) == {registry.CHAMPION: "2", registry.PREVIOUS_CHAMPION: "1"}


def test_promote_accepts_versions_as_numbers(client):
    registry.promote(client, MODEL, 1, expected_champion=None)

    assert registry.promote(client, MODEL, 2, expected_champion=1)["moved"] is True
    assert registry.promote(client, MODEL, 2, expected_champion=1)["moved"] is False
    assert aliases(client) == {registry.CHAMPION: "2", registry.PREVIOUS_CHAMPION: "1"}


def test_version_tags_are_namespaced_and_json_encoded(client):
    registry.set_version_tags(client, MODEL, "1", {"decision": "promote", "metrics": {"f1": 0.5}})

    tags = client.get_model_version(MODEL, "1").tags
    assert tags["airflow_mlops.decision"] == "promote"
    assert json.loads(tags["airflow_mlops.metrics"]) == {"f1": 0.5}


def test_version_tags_are_one_prompt_check_and_one_write_each(client, monkeypatch):
    checked, written = [], []
    monkeypatch.setattr(client, "_raise_if_prompt", checked.append)
    writer = client._get_registry_client()
    monkeypatch.setattr(writer, "set_model_version_tag",
                        lambda *args: written.append(args))

    registry.set_version_tags(client, MODEL, "1", {"decision": "promote", "reasons": "r"})

    assert checked == [MODEL]
    assert written == [(MODEL, "1", "airflow_mlops.decision", "promote"),
                       (MODEL, "1", "airflow_mlops.reasons", "r")]


def test_version_tags_are_refused_on_a_prompt(mlflow_session):
    from mlflow.genai import register_prompt

    register_prompt("greeting", "Hello {{name}}")

    with pytest.raises(MlflowException, match="greeting"):
        registry.set_version_tags(MlflowClient(), "greeting", "1", {"decision": "promote"})


def test_ensure_registered_model_is_idempotent(mlflow_session):
    client = MlflowClient()

    registry.ensure_registered_model(client, "fresh")
    registry.ensure_registered_model(client, "fresh")

    assert [m.name for m in client.search_registered_models()] == ["fresh"]


RUN = {"dag_id": "nightly_retrain_churn", "run_id": "scheduled__2026-03-02"}


def moves(client: MlflowClient, alias: str = registry.CHAMPION) -> list[tuple]:
    return [(e.action, e.from_version, e.to_version, e.dag_run_id, e.status)
            for e in ledger.history(client, MODEL, alias=alias)]


def test_promotion_is_recorded_in_the_ledger(client):
    registry.promote(client, MODEL, "1", expected_champion=None, reason="first", lineage=RUN)

    registry.promote(client, MODEL, "2", expected_champion="1", reason="better",
                     lineage={**RUN, "run_id": "r2"})

    assert moves(client) == [("promote", "1", "2", "r2", ledger.DONE),
                             ("promote", None, "1", RUN["run_id"], ledger.DONE)]
    assert ledger.history(client, MODEL)[0].reason == "better"


def test_lost_compare_and_set_records_nothing(client):
    registry.promote(client, MODEL, "2", expected_champion=None, lineage=RUN)

    with pytest.raises(ChampionChangedError):
        registry.promote(client, MODEL, "3", expected_champion="1",
                         lineage={**RUN, "run_id": "r2"})

    assert len(moves(client)) == 1


def test_re_running_a_promotion_moves_nothing_twice_even_after_later_moves(client):
    registry.promote(client, MODEL, "1", expected_champion=None, lineage=RUN)
    registry.promote(client, MODEL, "2", expected_champion="1", lineage={**RUN, "run_id": "r2"})

    again = registry.promote(client, MODEL, "1", expected_champion=None, lineage=RUN)

    assert again == {"model": MODEL, "champion": "1", "previous_champion": None, "moved": False}
    assert aliases(client) == {registry.CHAMPION: "2", registry.PREVIOUS_CHAMPION: "1"}
    assert len(moves(client)) == 2


@pytest.mark.parametrize("done_before_crash", [
    [],                                         # crashed right after writing the entry
    [registry.PREVIOUS_CHAMPION],               # ... after moving previous_champion
    [registry.PREVIOUS_CHAMPION, registry.CHAMPION],  # ... before completing the entry
])
def test_re_run_completes_an_interrupted_promotion(client, done_before_crash):
    registry.promote(client, MODEL, "1", expected_champion=None, lineage={**RUN, "run_id": "r1"})
    ledger.begin(client, model=MODEL, alias=registry.CHAMPION, from_version="1", to_version="2",
                 action=registry.PROMOTE, reason="better", lineage=RUN)
    for alias in done_before_crash:
        client.set_registered_model_alias(MODEL, alias, "1" if alias != registry.CHAMPION else "2")

    result = registry.promote(client, MODEL, "2", expected_champion="1", lineage=RUN)

    assert result["moved"] is True
    assert aliases(client) == {registry.CHAMPION: "2", registry.PREVIOUS_CHAMPION: "1"}
    assert moves(client)[0] == ("promote", "1", "2", RUN["run_id"], ledger.DONE)
    assert len(moves(client)) == 2


def test_interrupted_promotion_is_abandoned_when_the_champion_moved_meanwhile(client):
    registry.promote(client, MODEL, "1", expected_champion=None, lineage={**RUN, "run_id": "r1"})
    ledger.begin(client, model=MODEL, alias=registry.CHAMPION, from_version="1", to_version="2",
                 action=registry.PROMOTE, reason="", lineage=RUN)
    client.set_registered_model_alias(MODEL, registry.CHAMPION, "3")  # another writer

    with pytest.raises(ChampionChangedError, match="champion is version 3; the interrupted "
                                                   "promotion from 1 to 2 was abandoned"):
        registry.promote(client, MODEL, "2", expected_champion="1", lineage=RUN)

    assert aliases(client) == {registry.CHAMPION: "3"}
    assert moves(client)[0][-1] == ledger.ABANDONED


def test_rollback_restores_the_previous_champion_and_is_recorded(client):
    registry.promote(client, MODEL, "1", expected_champion=None, lineage={**RUN, "run_id": "r1"})
    registry.promote(client, MODEL, "2", expected_champion="1", lineage={**RUN, "run_id": "r2"})

    result = registry.rollback(client, MODEL, reason="smoke check failed", lineage=RUN)

    assert result == {"model": MODEL, "champion": "1", "previous_champion": "2", "moved": True}
    assert aliases(client) == {registry.CHAMPION: "1", registry.PREVIOUS_CHAMPION: "2"}
    latest = ledger.history(client, MODEL)[0]
    assert (latest.action, latest.from_version, latest.to_version, latest.reason) == (
        "rollback", "2", "1", "smoke check failed")
    tags = client.get_model_version(MODEL, "2").tags
    assert tags["airflow_mlops.status"] == "rolled_back"
    assert tags["airflow_mlops.rolled_back_by"] == f"{RUN['dag_id']}/{RUN['run_id']}"


def test_rollback_re_run_does_not_roll_back_twice(client):
    registry.promote(client, MODEL, "1", expected_champion=None, lineage={**RUN, "run_id": "r1"})
    registry.promote(client, MODEL, "2", expected_champion="1", lineage={**RUN, "run_id": "r2"})
    first = registry.rollback(client, MODEL, lineage=RUN)

    again = registry.rollback(client, MODEL, lineage=RUN)

    assert again == {**first, "moved": False}
    assert aliases(client) == {registry.CHAMPION: "1", registry.PREVIOUS_CHAMPION: "2"}
    assert len(moves(client)) == 3


def test_rollback_completes_after_a_crash_between_its_writes(client):
    registry.promote(client, MODEL, "1", expected_champion=None, lineage={**RUN, "run_id": "r1"})
    registry.promote(client, MODEL, "2", expected_champion="1", lineage={**RUN, "run_id": "r2"})
    ledger.begin(client, model=MODEL, alias=registry.CHAMPION, from_version="2", to_version="1",
                 action=registry.ROLLBACK, reason="", lineage=RUN)
    client.set_registered_model_alias(MODEL, registry.PREVIOUS_CHAMPION, "2")  # then crashed

    assert registry.rollback(client, MODEL, lineage=RUN)["moved"] is True
    assert aliases(client) == {registry.CHAMPION: "1", registry.PREVIOUS_CHAMPION: "2"}
    assert moves(client)[0] == ("rollback", "2", "1", RUN["run_id"], ledger.DONE)


def test_rollback_twice_undoes_the_rollback(client):
    registry.promote(client, MODEL, "1", expected_champion=None, lineage={**RUN, "run_id": "r1"})
    registry.promote(client, MODEL, "2", expected_champion="1", lineage={**RUN, "run_id": "r2"})
    registry.rollback(client, MODEL, lineage={**RUN, "run_id": "r3"})

    registry.rollback(client, MODEL, lineage={**RUN, "run_id": "r4"})

    assert aliases(client) == {registry.CHAMPION: "2", registry.PREVIOUS_CHAMPION: "1"}


def statuses(client: MlflowClient) -> dict[str, str]:
    return {str(v.version): v.tags.get(registry.tag("status"), "")
            for v in client.search_model_versions(f"name='{MODEL}'")}


def test_three_promotions_leave_exactly_one_version_with_status_champion(client):
    for version, expected in (("1", None), ("2", "1"), ("3", "2")):
        registry.promote(client, MODEL, version, expected_champion=expected,
                         lineage={**RUN, "run_id": f"night-{version}"})

    assert statuses(client) == {"1": "replaced", "2": "replaced", "3": "champion"}
    assert aliases(client) == {registry.CHAMPION: "3", registry.PREVIOUS_CHAMPION: "2"}


def test_a_rollback_flips_both_status_tags(client):
    registry.promote(client, MODEL, "1", expected_champion=None, lineage={**RUN, "run_id": "r1"})
    registry.promote(client, MODEL, "2", expected_champion="1", lineage={**RUN, "run_id": "r2"})
    assert statuses(client)["1"] == "replaced"  # control: what the rollback changes

    registry.rollback(client, MODEL, lineage=RUN)

    assert statuses(client) == {"1": "champion", "2": "rolled_back", "3": ""}


def test_a_move_interrupted_before_its_status_tags_gets_them_on_re_run(client):
    """A crash after both aliases moved but before the tags: the entry is still in progress,
    so the re-run writes them."""
    registry.promote(client, MODEL, "1", expected_champion=None, lineage={**RUN, "run_id": "r1"})
    ledger.begin(client, model=MODEL, alias=registry.CHAMPION, from_version="1", to_version="2",
                 action=registry.PROMOTE, reason="", lineage=RUN)
    client.set_registered_model_alias(MODEL, registry.PREVIOUS_CHAMPION, "1")
    client.set_registered_model_alias(MODEL, registry.CHAMPION, "2")  # then crashed
    assert statuses(client)["1"] == "champion"

    registry.promote(client, MODEL, "2", expected_champion="1", lineage=RUN)

    assert statuses(client) == {"1": "replaced", "2": "champion", "3": ""}


def test_rollback_needs_a_previous_champion(client):
    with pytest.raises(RegistryError, match="model 'churn' has no champion"):
        registry.rollback(client, MODEL, lineage=RUN)
    registry.promote(client, MODEL, "1", expected_champion=None, lineage={**RUN, "run_id": "r1"})

    with pytest.raises(RegistryError, match="no previous_champion other than champion v1"):
        registry.rollback(client, MODEL, lineage=RUN)

    assert aliases(client) == {registry.CHAMPION: "1"}
    assert len(moves(client)) == 1


def test_rollback_of_an_expected_champion_only(client):
    registry.promote(client, MODEL, "1", expected_champion=None, lineage={**RUN, "run_id": "r1"})
    registry.promote(client, MODEL, "2", expected_champion="1", lineage={**RUN, "run_id": "r2"})

    with pytest.raises(ChampionChangedError, match="champion is version 2, not 3; nothing was "
                                                   "rolled back"):
        registry.rollback(client, MODEL, lineage=RUN, expected_champion="3")

    assert aliases(client) == {registry.CHAMPION: "2", registry.PREVIOUS_CHAMPION: "1"}


def test_set_alias_records_each_move_once(client):
    assert registry.set_alias(client, MODEL, registry.CHALLENGER, "1", action="train",
                              lineage=RUN) is True
    assert registry.set_alias(client, MODEL, registry.CHALLENGER, "1", action="train",
                              lineage=RUN) is False
    assert registry.set_alias(client, MODEL, registry.CHALLENGER, "2", action="train",
                              lineage={**RUN, "run_id": "r2"}) is True

    assert moves(client, registry.CHALLENGER) == [
        ("train", "1", "2", "r2", ledger.DONE), ("train", None, "1", RUN["run_id"], ledger.DONE),
    ]
