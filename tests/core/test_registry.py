"""Tests for the champion / challenger / previous_champion alias contract."""

from __future__ import annotations

import json

import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from airflow_mlops.core import registry
from airflow_mlops.core.errors import ChampionChangedError

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


def test_ensure_registered_model_is_idempotent(mlflow_session):
    client = MlflowClient()

    registry.ensure_registered_model(client, "fresh")
    registry.ensure_registered_model(client, "fresh")

    assert [m.name for m in client.search_registered_models()] == ["fresh"]
