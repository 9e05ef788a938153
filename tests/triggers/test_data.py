from __future__ import annotations

import asyncio
import importlib

from airflow.triggers.base import TriggerEvent

from airflow_mlops.triggers.data import DataPartitionTrigger


async def first_event(trigger: DataPartitionTrigger, timeout: float = 10) -> TriggerEvent:
    return await asyncio.wait_for(anext(trigger.run()), timeout)


def test_serialize_round_trips():
    trigger = DataPartitionTrigger(uri="s3://b/day.csv", min_bytes=10, min_rows=5, poll_interval=3)
    classpath, kwargs = trigger.serialize()
    module, name = classpath.rsplit(".", 1)
    rebuilt = getattr(importlib.import_module(module), name)(**kwargs)
    assert isinstance(rebuilt, DataPartitionTrigger)
    assert rebuilt.serialize() == (classpath, kwargs)
    assert kwargs == {"uri": "s3://b/day.csv", "min_bytes": 10, "min_rows": 5, "poll_interval": 3}


def test_fires_when_the_file_appears_while_polling(tmp_path):
    uri = str(tmp_path / "day.csv")
    trigger = DataPartitionTrigger(uri=uri, min_rows=2, poll_interval=0.05)

    async def land_data() -> None:
        await asyncio.sleep(0.2)
        (tmp_path / "day.csv").write_text("a,b\n")
        await asyncio.sleep(0.2)
        (tmp_path / "day.csv").write_text("a,b\n1,2\n3,4\n")

    async def scenario() -> tuple[TriggerEvent, bool]:
        writer = asyncio.create_task(land_data())
        event = await first_event(trigger)
        return event, writer.done()

    event, writer_done = asyncio.run(scenario())
    assert writer_done
    assert event.payload == {
        "status": "success",
        "uri": uri,
        "reason": "12 bytes, at least 2 data rows",
    }


def test_error_event_when_waiting_cannot_succeed(tmp_path):
    trigger = DataPartitionTrigger(uri=str(tmp_path), poll_interval=0.05)
    event = asyncio.run(first_event(trigger))
    assert event.payload["status"] == "error"
    assert "is a directory" in event.payload["message"]
