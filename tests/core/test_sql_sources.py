"""SQL sources: connection mapping, table names, errors, and samples drawn in the database."""

from __future__ import annotations

import json
import sqlite3

import pytest

from airflow_mlops.core.errors import ConfigError
from airflow_mlops.core.sql_sources import (
    SqlSource,
    SqlSourceError,
    SqlUnreachableError,
    connection_url,
    hidden,
    split_table,
)


@pytest.fixture
def numbers(tmp_path) -> str:
    """SQLite file with table ``numbers``: ids 0..999 and their squares."""
    path = tmp_path / "numbers.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE numbers (id INTEGER, square INTEGER)")
        connection.executemany("INSERT INTO numbers VALUES (?, ?)",
                               [(i, i * i) for i in range(1000)])
    return f"sqlite:///{path}"


def define(monkeypatch, conn_id: str, hook=None, **fields) -> None:
    from airflow.sdk.definitions.connection import Connection

    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(fields))

    def get_hook(self, **_):
        if hook is None:
            raise ImportError(f"no provider for {self.conn_type}")
        return hook

    monkeypatch.setattr(Connection, "get_hook", get_hook)


def test_a_postgres_connection_without_its_provider_maps_to_a_psycopg2_url(monkeypatch):
    define(monkeypatch, "wh", conn_type="postgres", host="db.example", port=5433,
           login="svc", password="s3cret", schema="analytics")
    assert connection_url("wh") == "postgresql+psycopg2://svc:s3cret@db.example:5433/analytics"


def test_a_sqlite_connection_maps_to_its_file(monkeypatch, tmp_path):
    define(monkeypatch, "lite", conn_type="sqlite", host=str(tmp_path / "a.db"))
    assert connection_url("lite") == f"sqlite:///{tmp_path / 'a.db'}"


def test_a_hook_that_builds_a_sqlalchemy_url_wins(monkeypatch):
    class SnowflakeLikeHook:
        sqlalchemy_url = "snowflake://svc:pw@account/db/schema?warehouse=wh"

    define(monkeypatch, "snow", hook=SnowflakeLikeHook(), conn_type="postgres", host="ignored")
    assert connection_url("snow") == SnowflakeLikeHook.sqlalchemy_url


def test_a_hook_without_sqlalchemy_url_falls_back_to_its_uri(monkeypatch):
    class BigQueryLikeHook:
        @property
        def sqlalchemy_url(self):
            raise NotImplementedError

        def get_uri(self):
            return "bigquery://my-project"

    define(monkeypatch, "bq", hook=BigQueryLikeHook(), conn_type="gcpbigquery")
    assert connection_url("bq") == "bigquery://my-project"


def test_a_connection_that_is_not_sql_is_refused(monkeypatch):
    define(monkeypatch, "web", conn_type="http", host="example.com")
    with pytest.raises(ConfigError, match="connection 'web' \\(type 'http'\\) is not a SQL"):
        connection_url("web")


def test_a_missing_connection_is_named():
    with pytest.raises(ConfigError, match="connection 'nope' cannot be read"):
        connection_url("nope")


def test_passwords_never_reach_messages():
    assert hidden("postgresql://svc:s3cret@h/db") == "postgresql://svc:***@h/db"
    source = SqlSource.on_url("postgresql://svc:s3cret@h/db", table="t")
    assert "s3cret" not in source.name


@pytest.mark.parametrize("name", ["t; DROP TABLE x", "a.b.c", "public.", "1abc"])
def test_table_names_are_plain_identifiers(name):
    with pytest.raises(ConfigError, match="expected 'schema.table' or 'table'"):
        split_table(name)


def test_a_schema_qualified_table_is_accepted():
    assert split_table("public.customers") == ("public", "customers")
    assert split_table("customers") == (None, "customers")


def test_a_missing_table_is_named(numbers):
    with pytest.raises(SqlSourceError, match="table 'nowhere' does not exist"):
        SqlSource.on_url(numbers, table="nowhere").columns()


def test_a_failing_query_is_a_source_error(numbers):
    with pytest.raises(SqlSourceError, match="query on sqlite:///.*: the query failed: "
                                             ".*no such column: nosuch"):
        SqlSource.on_url(numbers, query="SELECT nosuch FROM numbers").columns()


def test_a_refusing_database_is_unreachable_not_a_data_error():
    source = SqlSource.on_url("postgresql+psycopg2://postgres@127.0.0.1:1/x", table="t")
    with pytest.raises(SqlUnreachableError, match="127.0.0.1:1/x: the database refused"):
        source.columns()


def test_hash_sample_is_seeded_and_drawn_in_the_database(numbers):
    source = SqlSource.on_url(numbers, table="numbers", where="id >= 100")
    first = source.read_sample(50, seed=3, key="id")
    again = source.read_sample(50, seed=3, key="id")
    other = source.read_sample(50, seed=4, key="id")
    assert first.rows == 900 and first.columns == ["id", "square"]
    assert len(first.frame) == 50 and first.frame["id"].min() >= 100
    assert first.frame["id"].tolist() == again.frame["id"].tolist()
    assert set(first.frame["id"]) != set(other.frame["id"])
    assert first.frame["id"].max() - first.frame["id"].min() > 500  # spread, not the first 50
    assert source.sample_select(50, 3, 900, "id").endswith("LIMIT 50")


def test_a_hash_sample_needs_a_key_column(numbers):
    with pytest.raises(ConfigError, match="needs key_column"):
        SqlSource.on_url(numbers, table="numbers").read_sample(50, seed=3)
    whole = SqlSource.on_url(numbers, table="numbers").read_sample(5000, seed=3)
    assert len(whole.frame) == 1000  # negative control: no sample needed, no key needed


def test_a_sample_keeps_only_the_asked_columns(numbers):
    sampled = SqlSource.on_url(numbers, table="numbers").read_sample(
        10, seed=1, key="id", columns=["square"])
    assert list(sampled.frame.columns) == ["square"] and sampled.columns == ["id", "square"]


# --- PostgreSQL ---------------------------------------------------------------------------


def test_postgres_tables_are_sampled_with_tablesample(pg_customers):
    source = SqlSource.on_url(pg_customers, table="public.customers")
    sql = source.sample_select(70, seed=5, rows=700)
    assert "TABLESAMPLE BERNOULLI(10.0) REPEATABLE(5)" in sql
    first, again = source.read_sample(70, seed=5), source.read_sample(70, seed=5)
    assert first.rows == 700 and 20 < len(first.frame) < 150
    assert first.frame["customer_id"].tolist() == again.frame["customer_id"].tolist()


def test_a_postgres_query_times_out_with_a_clear_error(postgres):
    source = SqlSource.on_url(postgres, query="SELECT pg_sleep(5) AS nap",
                              timeout_seconds=0.2)
    with pytest.raises(SqlSourceError, match="the query timed out after 0.2 s"):
        source.count()
    untimed = SqlSource.on_url(postgres, query="SELECT pg_sleep(0) AS nap")
    assert untimed.count() == 1  # negative control: the same query without the timeout


def test_an_unmappable_postgres_type_is_named(postgres):
    import sqlalchemy as sa

    engine = sa.create_engine(postgres)
    with engine.begin() as connection:
        connection.execute(sa.text("DROP TABLE IF EXISTS places"))
        connection.execute(sa.text("CREATE TABLE places (id int, spot point)"))
    engine.dispose()
    source = SqlSource.on_url(postgres, table="public.places")
    assert source.unreadable_columns() == {"spot": "point"}
