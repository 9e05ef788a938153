"""ExtractQueryOperator: land a SQL query's result as the night's data file."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from airflow.sdk import BaseHook, BaseOperator

from airflow_mlops.core.errors import ConfigError, DataError
from airflow_mlops.operators.templating import ConfigTemplatedMixin

if TYPE_CHECKING:
    import pandas as pd
    from airflow.sdk import Context


def query_frame(conn_id: str, sql: str, label: str) -> pd.DataFrame:
    """The rows ``sql`` returns on SQL connection ``conn_id``; errors name ``label``."""
    from airflow.providers.common.sql.hooks.sql import DbApiHook

    from airflow_mlops.core.io import require_rows, short

    hook = BaseHook.get_connection(conn_id).get_hook()
    if not isinstance(hook, DbApiHook):
        raise ConfigError(f"connection {conn_id!r} is not a SQL connection")
    try:
        frame = hook.get_df(sql, df_type="pandas")
    except Exception as exc:  # each database driver raises its own error types
        raise DataError(f"{label}: the query failed: {short(exc)}") from None
    return require_rows(frame, label)


class ExtractQueryOperator(ConfigTemplatedMixin, BaseOperator):
    """
    Run a SQL query and write its result to ``output_uri`` (CSV or Parquet by suffix).

    Later tasks read the file, so every one of them sees the same rows. The file is written
    through a temporary sibling and renamed: a re-run replaces it whole.

    :param sql: the query. (templated)
    :param conn_id: the SQL connection it runs on (a common.sql DbApiHook).
    :param output_uri: where the rows land: a local path or an object-storage URI. (templated)
    """

    template_fields: Sequence[str] = ("sql", "output_uri")
    config_template_fields: Sequence[str] = ("sql", "output_uri")
    template_ext: Sequence[str] = (".sql",)
    template_fields_renderers = {"sql": "sql"}

    def __init__(self, *, sql: str, conn_id: str, output_uri: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.sql = sql
        self.conn_id = conn_id
        self.output_uri = output_uri

    def execute(self, context: Context) -> dict:
        from airflow_mlops.core.scoring import write_table
        from airflow_mlops.operators.links import storage_path

        frame = query_frame(self.conn_id, self.sql, f"query on {self.conn_id}")
        written = write_table(frame, storage_path(self.output_uri))
        self.log.info("Wrote %d rows to %s", len(frame), written)
        return {"rows": len(frame), "uri": self.output_uri}
