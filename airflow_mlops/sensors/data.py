"""DataPartitionSensor: waits until the interval's data exists and is non-empty."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, conf
from airflow.sdk.exceptions import AirflowFailException

from airflow_mlops.core.errors import DataError
from airflow_mlops.operators.templating import ConfigTemplatedMixin
from airflow_mlops.triggers.data import DataPartitionTrigger, as_storage_path, check_partition

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = ["DataPartitionSensor", "as_storage_path"]


class DataPartitionSensor(ConfigTemplatedMixin, BaseSensorOperator):
    """
    Wait until a data file exists and holds at least ``min_bytes`` bytes and ``min_rows`` rows.

    Fails without waiting further when the URI is a directory, or when ``min_rows`` is set
    for a file type other than CSV or Parquet.

    :param uri: local path or object-storage URI of the partition. (templated)
    :param min_bytes: smallest size that counts as data; 1 rejects 0-byte files.
    :param min_rows: fewest data rows that count as data (CSV: lines after the header;
        Parquet: the footer's row count); ``None`` skips counting.
    :param deferrable: wait in the triggerer instead of holding a worker slot.
    :param poll_interval: seconds between the trigger's checks; defaults to ``poke_interval``.
    """

    template_fields: Sequence[str] = ("uri",)
    config_template_fields: Sequence[str] = ("uri",)

    def __init__(
        self,
        *,
        uri: str,
        min_bytes: int = 1,
        min_rows: int | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.uri = uri
        self.min_bytes = min_bytes
        self.min_rows = min_rows
        self.deferrable = deferrable
        self.poll_interval = poll_interval

    def poke(self, context: Context) -> bool:
        try:
            result = check_partition(self.uri, min_bytes=self.min_bytes, min_rows=self.min_rows)
        except DataError as exc:
            raise AirflowFailException(str(exc)) from None
        if not result.ready:
            self.log.info("Waiting for %s: %s", self.uri, result.reason)
            return False
        self.log.info("Data ready at %s: %s", self.uri, result.reason)
        return True

    def execute(self, context: Context) -> None:
        if not self.deferrable:
            super().execute(context=context)
        elif not self.poke(context=context):
            self.defer(
                timeout=datetime.timedelta(seconds=self.timeout),
                trigger=DataPartitionTrigger(
                    uri=self.uri,
                    min_bytes=self.min_bytes,
                    min_rows=self.min_rows,
                    poll_interval=(
                        self.poke_interval if self.poll_interval is None else self.poll_interval
                    ),
                ),
                method_name="execute_complete",
            )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> None:
        if not event or event.get("status") != "success":
            message = (event or {}).get("message", "the trigger sent no event")
            raise AirflowFailException(f"{self.task_id}: waiting for {self.uri} failed: {message}")
        self.log.info("Data ready at %s: %s", self.uri, event["reason"])
