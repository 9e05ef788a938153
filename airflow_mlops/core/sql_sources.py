"""SQL data sources: a table or query on a database, reached through a SQLAlchemy URL.

An Airflow connection becomes a SQLAlchemy URL (:func:`connection_url`): the provider hook's
own ``sqlalchemy_url`` where it has one (PostgreSQL, Snowflake, Redshift, Trino, ...), else a
URL built from the connection's fields for the common types, else the hook's ``get_uri()``
(BigQuery's ``bigquery://project``). A :class:`SqlSource` names the rows (a table, optionally
with a WHERE clause, or a SELECT query), checks them before anything heavy runs, and draws
seeded samples in the database so only the sample reaches the worker.

Two kinds of errors: :class:`SqlUnreachableError` (the database refused or did not answer: a
retry may pass) and :class:`SqlSourceError` (a missing table or column, a failing or
timed-out query, a type that cannot be read: a retry cannot pass). Both name the connection
and the table; the URL's password never appears in them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow_mlops.core.errors import ConfigError, DataError, MlopsError
from airflow_mlops.core.io import short

if TYPE_CHECKING:
    import pandas as pd
    import sqlalchemy as sa

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")
# SQLAlchemy drivers for Airflow connection types whose hooks build no SQLAlchemy URL.
DRIVERS = {"postgres": "postgresql+psycopg2", "postgresql": "postgresql+psycopg2",
           "mysql": "mysql+mysqldb", "mssql": "mssql+pymssql", "sqlite": "sqlite"}
# PostgreSQL's error code for a statement cancelled by statement_timeout.
QUERY_CANCELED = "57014"
MAX_LABEL_QUERY = 100
# The seeded row order where TABLESAMPLE is not available: key times a multiplier chosen by
# the seed, modulo a prime (a different permutation of the keys for each seed).
HASH_MULTIPLIER, HASH_MODULUS = 1103515245, 2147483647


class SqlSourceError(DataError):
    """The rows cannot be read as asked: a retry would fail the same way."""


class SqlUnreachableError(MlopsError):
    """The database refused the connection or did not answer: a later try may pass."""


# --- connections -------------------------------------------------------------------------


def _hook_url(hook: Any) -> str | None:
    try:
        url = hook.sqlalchemy_url
    except (NotImplementedError, AttributeError, ImportError):
        return None
    return url if isinstance(url, str) else url.render_as_string(hide_password=False)


def connection_url(conn_id: str) -> str:
    """The SQLAlchemy URL of Airflow connection ``conn_id``.

    :raises ConfigError: the connection does not exist or is not a SQL connection.
    """
    from airflow.sdk import BaseHook
    from sqlalchemy.engine import URL

    try:
        conn = BaseHook.get_connection(conn_id)
    except Exception as exc:  # AirflowNotFoundException, or a secrets backend's own error
        raise ConfigError(f"connection {conn_id!r} cannot be read: {short(exc)}") from None
    try:
        hook = conn.get_hook()
    except Exception:  # the connection type's provider is not installed: use its fields
        hook = None
    if hook is not None and (url := _hook_url(hook)):
        return url
    driver = DRIVERS.get(conn.conn_type or "")
    if driver == "sqlite":
        return URL.create("sqlite", database=conn.host or conn.schema).render_as_string()
    if driver:
        return URL.create(driver, username=conn.login or None, password=conn.password or None,
                          host=conn.host or None, port=conn.port or None,
                          database=conn.schema or None).render_as_string(hide_password=False)
    if hook is not None and hasattr(hook, "get_uri"):
        return hook.get_uri()
    raise ConfigError(f"connection {conn_id!r} (type {conn.conn_type!r}) is not a SQL "
                      "connection with a SQLAlchemy URL")


def hidden(url: str) -> str:
    """``url`` with its password masked, for messages."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL at all: show only its scheme
        return url.split("://", 1)[0] + "://..."


# --- sources -----------------------------------------------------------------------------


def split_table(table: str) -> tuple[str | None, str]:
    """``schema.table`` (or ``table``) as (schema, table), each part a plain identifier.

    :raises ConfigError: a part is not a plain identifier (it would be spliced into SQL).
    """
    parts = table.split(".")
    if len(parts) > 2 or not all(IDENTIFIER.match(p) for p in parts):
        raise ConfigError(f"table {table!r}: expected 'schema.table' or 'table', each part "
                          "letters, digits and underscores")
    return (None, parts[0]) if len(parts) == 1 else (parts[0], parts[1])


@dataclass(frozen=True)
class SqlSource:
    """Rows on a database: a table (optionally filtered by ``where``) or a SELECT ``query``.

    :param url: the SQLAlchemy URL (kept out of every message).
    :param connection: how messages name the database: ``connection NAME`` or the URL
        without its password.
    :param timeout_seconds: statement timeout on PostgreSQL; other databases keep theirs.
    """

    url: str
    connection: str
    table: str | None = None
    where: str | None = None
    query: str | None = None
    timeout_seconds: float | None = None

    def __post_init__(self) -> None:
        if (self.table is None) == (self.query is None):
            raise ConfigError(f"{self.connection}: give exactly one of a table or a query")
        if self.query is not None and self.where:
            raise ConfigError(f"{self.connection}: a WHERE clause goes with a table; put it "
                              "in the query instead")
        if self.table is not None:
            split_table(self.table)

    @classmethod
    def on_connection(cls, conn_id: str, **kwargs: Any) -> SqlSource:
        """The source on Airflow connection ``conn_id``."""
        return cls(url=connection_url(conn_id), connection=f"connection {conn_id}", **kwargs)

    @classmethod
    def on_url(cls, url: str, **kwargs: Any) -> SqlSource:
        """The source at SQLAlchemy URL ``url``."""
        return cls(url=url, connection=hidden(url), **kwargs)

    @property
    def name(self) -> str:
        """How messages and reports name the rows: the table or query and the connection."""
        if self.table is not None:
            where = f" WHERE {self.where}" if self.where else ""
            return f"table {self.table}{where} on {self.connection}"
        query = re.sub(r"\s+", " ", self.query).strip()
        if len(query) > MAX_LABEL_QUERY:
            query = query[: MAX_LABEL_QUERY - 3] + "..."
        return f"query on {self.connection}: {query}"

    @property
    def dialect(self) -> str:
        """The SQLAlchemy dialect name (``postgresql``, ``sqlite``, ``snowflake``, ...)."""
        from sqlalchemy.engine import make_url

        return make_url(self.url).get_backend_name()

    def engine_kwargs(self) -> dict:
        """Keyword arguments for ``create_engine`` (the statement timeout, where supported)."""
        if self.timeout_seconds and self.dialect == "postgresql":
            milliseconds = int(self.timeout_seconds * 1000)
            return {"connect_args": {"options": f"-c statement_timeout={milliseconds}"}}
        return {}

    @cached_property
    def _engine(self) -> sa.Engine:
        import sqlalchemy as sa

        try:
            return sa.create_engine(self.url, **self.engine_kwargs())
        except Exception as exc:  # an unknown dialect, a driver not installed
            raise ConfigError(f"{self.connection}: no SQLAlchemy engine: {short(exc)}") \
                from None

    def engine(self) -> sa.Engine:
        """One SQLAlchemy engine per source."""
        return self._engine

    def quoted_table(self) -> str:
        """The table as quoted SQL for this database."""
        schema, table = split_table(self.table)
        quote = self.engine().dialect.identifier_preparer.quote
        return f"{quote(schema)}.{quote(table)}" if schema else quote(table)

    def select(self) -> str:
        """A SELECT returning the rows."""
        if self.query is not None:
            return self.query.strip().rstrip(";")
        where = f" WHERE {self.where}" if self.where else ""
        return f"SELECT * FROM {self.quoted_table()}{where}"

    # --- running SQL, with errors that say what to fix -----------------------------------

    def _failure(self, exc: Exception) -> MlopsError:
        original = getattr(exc, "orig", None) or exc
        if getattr(original, "pgcode", None) == QUERY_CANCELED:
            return SqlSourceError(f"{self.name}: {self.timed_out()}")
        if _is_connect_error(original):
            return SqlUnreachableError(f"{self.connection}: the database refused or did not "
                                       f"answer: {short(original)}")
        return SqlSourceError(f"{self.name}: the query failed: {short(original)}")

    def timed_out(self) -> str:
        """What a cancelled statement means, for messages."""
        after = f" after {self.timeout_seconds:g} s" if self.timeout_seconds else ""
        return f"the query timed out{after} (statement_timeout)"

    def connect(self):
        """A connection, or :class:`SqlUnreachableError` naming the connection."""
        try:
            return self.engine().connect()
        except Exception as exc:  # each driver raises its own error types
            raise SqlUnreachableError(f"{self.connection}: the database refused or did not "
                                      f"answer: {short(getattr(exc, 'orig', None) or exc)}") \
                from None

    def execute(self, sql: str, **parameters: Any) -> Any:
        """All rows of ``sql`` (a small result: counts, names)."""
        import sqlalchemy as sa

        with self.connect() as connection:
            try:
                return connection.execute(sa.text(sql), parameters).fetchall()
            except Exception as exc:
                raise self._failure(exc) from None

    def require_table(self) -> None:
        """Fail with the table's name when the table does not exist."""
        import sqlalchemy as sa

        schema, table = split_table(self.table)
        with self.connect() as connection:
            try:
                exists = sa.inspect(connection).has_table(table, schema=schema)
            except Exception as exc:
                raise self._failure(exc) from None
        if not exists:
            where = f"schema {schema!r}" if schema else "the default schema"
            raise SqlSourceError(f"{self.name}: table {table!r} does not exist in {where}")

    def columns(self) -> list[str]:
        """The names of the columns the rows have, without reading any row."""
        import sqlalchemy as sa

        if self.table is not None:
            self.require_table()
        with self.connect() as connection:
            try:
                result = connection.execute(sa.text(f"SELECT * FROM ({self.select()}) "
                                                    "AS airflow_mlops_rows WHERE 1 = 0"))
                return list(result.keys())
            except Exception as exc:
                raise self._failure(exc) from None

    def unreadable_columns(self) -> dict[str, str]:
        """Columns of a table whose database type SQLAlchemy cannot map, with that type."""
        import warnings

        import sqlalchemy as sa

        if self.table is None:
            return {}
        schema, table = split_table(self.table)
        with self.connect() as connection, warnings.catch_warnings():
            warnings.simplefilter("ignore", sa.exc.SAWarning)  # "did not recognize type"
            described = sa.inspect(connection).get_columns(table, schema=schema)
            return {c["name"]: _type_name(connection, schema, table, c["name"])
                    for c in described if isinstance(c["type"], sa.types.NullType)}

    def count(self) -> int:
        """How many rows there are."""
        return int(self.execute(f"SELECT COUNT(*) FROM ({self.select()}) "
                                "AS airflow_mlops_rows")[0][0])

    # --- samples -------------------------------------------------------------------------

    def sample_select(self, size: int, seed: int, rows: int, key: str | None = None) -> str:
        """A SELECT of a seeded sample of about ``size`` of the ``rows`` rows.

        PostgreSQL tables use ``TABLESAMPLE BERNOULLI(p) REPEATABLE(seed)`` (each row kept
        with probability ``size / rows``: about ``size`` rows, the same ones for the same
        table and seed). Elsewhere, and for queries, the rows are ordered by a seeded hash of
        the integer column ``key`` and the first ``size`` kept.

        :raises ConfigError: a hash sample is needed and no ``key`` is given.
        """
        if rows <= size:
            return self.select()
        if self.table is not None and self.dialect == "postgresql":
            percent = 100.0 * size / rows
            where = f" WHERE {self.where}" if self.where else ""
            return (f"SELECT * FROM {self.quoted_table()} TABLESAMPLE BERNOULLI({percent!r}) "
                    f"REPEATABLE({int(seed)}){where}")
        if key is None or not IDENTIFIER.match(key):
            raise ConfigError(f"{self.name}: sampling it in the database needs key_column, an "
                              "integer column to draw the rows by")
        column = self.engine().dialect.identifier_preparer.quote(key)
        multiplier = (HASH_MULTIPLIER * (abs(int(seed)) + 1)) % HASH_MODULUS or 1
        order = f"((({column} % {HASH_MODULUS}) * {multiplier}) % {HASH_MODULUS})"
        return (f"SELECT * FROM ({self.select()}) AS airflow_mlops_rows "
                f"ORDER BY {order}, {column} LIMIT {int(size)}")

    def chunks(self, sql: str, chunk_rows: int) -> Iterator[pd.DataFrame]:
        """The rows of ``sql`` as data frames of at most ``chunk_rows`` rows each.

        The rows are streamed (a server-side cursor where the driver has one), so memory
        holds one chunk at a time.
        """
        import pandas as pd
        import sqlalchemy as sa

        with self.connect() as connection:
            streaming = connection.execution_options(stream_results=True,
                                                     max_row_buffer=chunk_rows)
            try:
                yield from pd.read_sql(sa.text(sql), streaming, chunksize=chunk_rows)
            except MlopsError:
                raise
            except Exception as exc:
                raise self._failure(exc) from None

    def read(self, sql: str) -> pd.DataFrame:
        """All rows of ``sql`` (a sample: small by construction) as one data frame."""
        import pandas as pd

        frames = list(self.chunks(sql, 100_000))
        return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]

    def read_sample(self, size: int | None, seed: int, key: str | None = None,
                    columns: list[str] | None = None):
        """A seeded sample drawn in the database: only the sample reaches this process.

        :return: an :class:`airflow_mlops.core.io.Sampled` (frame, row count, all columns).
        """
        from airflow_mlops.core.io import Sampled, require_rows

        names = self.columns()
        rows = self.count()
        if rows == 0:
            raise SqlSourceError(f"{self.name}: data set has no rows (columns: "
                                 f"{', '.join(names) or 'none'})")
        sql = self.select() if size is None else self.sample_select(size, seed, rows, key)
        frame = require_rows(self.read(sql), self.name)
        if columns is not None and (kept := [c for c in names if c in set(columns)]):
            frame = frame[kept]
        return Sampled(frame, rows, names)


def _is_connect_error(exc: Exception) -> bool:
    text = str(getattr(exc, "orig", None) or exc).lower()
    return any(sign in text for sign in ("could not connect", "connection refused",
                                         "server closed the connection", "timeout expired",
                                         "could not translate host name"))


def _type_name(connection, schema: str | None, table: str, column: str) -> str:
    """The database's own name of a column's type (PostgreSQL), else ``unknown``."""
    import sqlalchemy as sa

    if connection.dialect.name != "postgresql":
        return "unknown"
    rows = connection.execute(sa.text(
        "SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
        "WHERE a.attrelid = CAST(:table AS regclass) AND a.attname = :column"),
        {"table": f"{schema}.{table}" if schema else table, "column": column}).fetchall()
    return rows[0][0] if rows else "unknown"
