"""DataPartitionSensor: waits until the interval's data exists and is non-empty."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from airflow.sdk import BaseSensorOperator, ObjectStoragePath

if TYPE_CHECKING:
    from airflow.sdk import Context


def as_storage_path(uri: str) -> ObjectStoragePath:
    """An ObjectStoragePath for a URI or a plain local path."""
    return ObjectStoragePath(uri if "://" in uri else f"file://{uri}")


class DataPartitionSensor(BaseSensorOperator):
    """
    Wait until a data file exists and holds at least ``min_bytes`` bytes.

    :param uri: local path or object-storage URI of the partition. (templated)
    :param min_bytes: smallest size that counts as data; 1 rejects 0-byte files.
    """

    template_fields: Sequence[str] = ("uri",)

    def __init__(self, *, uri: str, min_bytes: int = 1, **kwargs) -> None:
        super().__init__(**kwargs)
        self.uri = uri
        self.min_bytes = min_bytes

    def poke(self, context: Context) -> bool:
        path = as_storage_path(self.uri)
        if not path.exists():
            self.log.info("Waiting for %s: not there yet", self.uri)
            return False
        size = path.stat().st_size
        if size < self.min_bytes:
            self.log.info("Waiting for %s: %d bytes, need %d", self.uri, size, self.min_bytes)
            return False
        return True
