"""DataPartitionTrigger: the async side of the deferrable DataPartitionSensor."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from airflow.sdk import ObjectStoragePath
from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_mlops.core.availability import Availability, check_data
from airflow_mlops.core.errors import DataError


def as_storage_path(uri: str) -> ObjectStoragePath:
    """An ObjectStoragePath for a URI or a plain local path."""
    return ObjectStoragePath(uri if "://" in uri else f"file://{uri}")


def check_partition(uri: str, *, min_bytes: int, min_rows: int | None) -> Availability:
    """Check a partition through ObjectStoragePath, so Airflow connections supply credentials."""
    path = as_storage_path(uri)
    return check_data(path.fs, path.path, min_bytes=min_bytes, min_rows=min_rows)


class DataPartitionTrigger(BaseTrigger):
    """
    Fire once when a data file exists with at least ``min_bytes`` bytes and ``min_rows`` rows.

    The event is ``{"status": "success", "uri": ..., "reason": ...}``, or
    ``{"status": "error", "uri": ..., "message": ...}`` when waiting cannot succeed
    (the URI is a directory, or rows cannot be counted for its file type).

    :param uri: local path or object-storage URI of the partition.
    :param min_bytes: smallest size that counts as data.
    :param min_rows: fewest data rows that count as data; ``None`` skips counting.
    :param poll_interval: seconds between checks.
    """

    def __init__(
        self,
        *,
        uri: str,
        min_bytes: int = 1,
        min_rows: int | None = None,
        poll_interval: float = 60.0,
    ) -> None:
        super().__init__()
        self.uri = uri
        self.min_bytes = min_bytes
        self.min_rows = min_rows
        self.poll_interval = poll_interval

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Serialize DataPartitionTrigger arguments and classpath."""
        return (
            "airflow_mlops.triggers.data.DataPartitionTrigger",
            {
                "uri": self.uri,
                "min_bytes": self.min_bytes,
                "min_rows": self.min_rows,
                "poll_interval": self.poll_interval,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Check the partition every ``poll_interval`` seconds until it holds data."""
        while True:
            try:
                result = await asyncio.to_thread(
                    check_partition, self.uri, min_bytes=self.min_bytes, min_rows=self.min_rows
                )
            except DataError as exc:
                yield TriggerEvent({"status": "error", "uri": self.uri, "message": str(exc)})
                return
            if result.ready:
                yield TriggerEvent({"status": "success", "uri": self.uri, "reason": result.reason})
                return
            self.log.info("Waiting for %s: %s", self.uri, result.reason)
            await asyncio.sleep(self.poll_interval)
