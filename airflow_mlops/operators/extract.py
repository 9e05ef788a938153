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

    Later tasks read the file, so every one of them sees the same rows. The rows are
    streamed in chunks (a server-side cursor where the driver has one), so the worker holds
    one chunk, never the whole result. The file is written through a temporary sibling and
    renamed: a re-run replaces it whole. A query that fails, or returns no rows, fails the
    task without retries; a database that refuses the connection is retried.

    :param sql: the query. (templated)
    :param conn_id: the SQL connection it runs on (any connection with a SQLAlchemy URL).
    :param output_uri: where the rows land: a local path or an object-storage URI. (templated)
    :param max_rows: land a seeded sample of at most this many rows, drawn in the database.
    :param seed: the sample's seed.
    :param key_column: integer column the sample is drawn by where ``TABLESAMPLE`` cannot
        be used (queries; databases other than PostgreSQL).
    :param chunk_rows: rows per streamed chunk.
    """

    template_fields: Sequence[str] = ("sql", "output_uri")
    config_template_fields: Sequence[str] = ("sql", "output_uri")
    template_ext: Sequence[str] = (".sql",)
    template_fields_renderers = {"sql": "sql"}

    def __init__(self, *, sql: str, conn_id: str, output_uri: str, max_rows: int | None = None,
                 seed: int = 0, key_column: str | None = None, chunk_rows: int = 50_000,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.sql = sql
        self.conn_id = conn_id
        self.output_uri = output_uri
        self.max_rows = max_rows
        self.seed = seed
        self.key_column = key_column
        self.chunk_rows = chunk_rows

    def execute(self, context: Context) -> dict:
        from airflow.sdk.exceptions import AirflowFailException

        from airflow_mlops.core.sql_extract import land_rows
        from airflow_mlops.core.sql_sources import SqlSource, SqlSourceError
        from airflow_mlops.operators.links import storage_path

        try:
            source = SqlSource.on_connection(self.conn_id, query=self.sql)
            landed = land_rows(source, storage_path(self.output_uri), max_rows=self.max_rows,
                               seed=self.seed, key_column=self.key_column,
                               chunk_rows=self.chunk_rows)
        except (SqlSourceError, ConfigError) as exc:  # a retry would fail the same way
            raise AirflowFailException(str(exc)) from None
        self.log.info("Wrote %d rows to %s", landed["rows"], self.output_uri)
        return {**landed, "uri": self.output_uri}
