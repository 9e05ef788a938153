"""ModelAliasTrigger's async run() against a real MLflow SQLite registry."""

from __future__ import annotations

import asyncio
import importlib
import json

import pytest
from airflow.triggers.base import TriggerEvent

from airflow_mlops.triggers.alias import ModelAliasTrigger

MODEL = "churn"


@pytest.fixture(scope="module")
def registry_store(tmp_path_factory):
    """A registry with versions 1 and 2 of ``churn``, behind the mlflow_default connection."""
    from mlflow import MlflowClient

    root = tmp_path_factory.mktemp("alias-trigger")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    client = MlflowClient(uri, uri)
    client.create_registered_model(MODEL)
    for version in (1, 2):
        client.create_model_version(MODEL, source=str(root / f"model-{version}"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIRFLOW_CONN_MLFLOW_DEFAULT", json.dumps({"conn_type": "mlflow",
                                                                 "host": uri}))
        yield client


@pytest.fixture
def client(registry_store):
    registry_store.delete_registered_model_alias(MODEL, "champion")
    return registry_store


def make_trigger(known_version: str | None = "1", **kwargs) -> ModelAliasTrigger:
    arguments = {"model_name": MODEL, "alias": "champion", "known_version": known_version,
                 "mlflow_conn_id": "mlflow_default", "poll_interval": 0.05, **kwargs}
    return ModelAliasTrigger(**arguments)


async def first_event(trigger: ModelAliasTrigger, timeout: float = 20) -> TriggerEvent:
    return await asyncio.wait_for(anext(trigger.run()), timeout)


def test_serialize_round_trips():
    trigger = make_trigger(poll_interval=3)
    classpath, kwargs = trigger.serialize()
    module, name = classpath.rsplit(".", 1)
    rebuilt = getattr(importlib.import_module(module), name)(**kwargs)
    assert isinstance(rebuilt, ModelAliasTrigger)
    assert rebuilt.serialize() == (classpath, kwargs)
    assert kwargs == {"model_name": MODEL, "alias": "champion", "known_version": "1",
                      "mlflow_conn_id": "mlflow_default", "poll_interval": 3}


def test_fires_when_the_alias_moves_while_polling(client):
    client.set_registered_model_alias(MODEL, "champion", "1")

    async def promote_later() -> None:
        await asyncio.sleep(0.3)
        await asyncio.to_thread(client.set_registered_model_alias, MODEL, "champion", "2")

    async def scenario() -> tuple[TriggerEvent, bool]:
        mover = asyncio.create_task(promote_later())
        event = await first_event(make_trigger(known_version="1"))
        return event, mover.done()

    event, mover_done = asyncio.run(scenario())

    assert mover_done
    assert event.payload == {"status": "success", "model": MODEL, "alias": "champion",
                             "version": "2"}


def test_fires_when_an_unset_alias_is_set(client):
    async def scenario() -> TriggerEvent:
        async def set_later() -> None:
            await asyncio.sleep(0.2)
            await asyncio.to_thread(client.set_registered_model_alias, MODEL, "champion", "1")

        setter = asyncio.create_task(set_later())
        event = await first_event(make_trigger(known_version=None))
        await setter
        return event

    assert asyncio.run(scenario()).payload["version"] == "1"


def test_keeps_waiting_while_the_alias_stays(client):
    client.set_registered_model_alias(MODEL, "champion", "1")

    with pytest.raises(TimeoutError):
        asyncio.run(first_event(make_trigger(known_version="1"), timeout=0.5))


def test_error_event_when_the_connection_is_unusable(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_BROKEN", json.dumps({"conn_type": "mlflow"}))

    event = asyncio.run(first_event(make_trigger(mlflow_conn_id="broken")))

    assert event.payload["status"] == "error"
    assert "connection 'broken': host (the tracking URI) is empty" in event.payload["message"]
