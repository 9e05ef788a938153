"""In-database validation with GX SQL execution, against the file path on the same rows."""

from __future__ import annotations

import sqlite3

import pytest

from airflow_mlops.core.sql_sources import SqlSource, SqlUnreachableError
from airflow_mlops.core.sql_validation import validate_source
from airflow_mlops.core.validation import load_suite, validate_frame


@pytest.fixture
def suite(churn_suite):
    return load_suite(churn_suite)


@pytest.fixture
def broken(customers):
    """700 customers with 21 impossible tenures and 5 unknown regions."""
    frame = customers.head(700).copy()
    frame.loc[:20, "tenure_months"] = 999
    frame.loc[5:9, "region"] = "mars"
    return frame


@pytest.fixture
def lite(tmp_path, broken) -> str:
    path = tmp_path / "warehouse.db"
    with sqlite3.connect(path) as connection:
        broken.to_sql("customers", connection, index=False)
    return f"sqlite:///{path}"


def test_a_table_fails_like_the_same_rows_in_a_file(lite, broken, suite):
    in_database = validate_source(SqlSource.on_url(lite, table="customers"), suite).summary
    from_file = validate_frame(broken, suite, data_name="file").summary
    assert in_database.failures == from_file.failures
    assert [f.column for f in in_database.failures] == ["tenure_months", "region"]
    assert in_database.failures[0].examples == [999]
    assert (in_database.rows, in_database.evaluated) == (700, 12)
    assert in_database.data.startswith("table customers on sqlite:///")


def test_a_where_clause_selects_the_partition(lite, suite):
    summary = validate_source(SqlSource.on_url(lite, table="customers",
                                               where="tenure_months <= 120 "
                                               "AND region <> 'mars'"), suite).summary
    assert summary.success and summary.rows == 700 - 21  # the unknown regions are among them
    assert "WHERE tenure_months <= 120" in summary.data


def test_a_query_is_validated_in_the_database(lite, suite):
    summary = validate_source(SqlSource.on_url(
        lite, query="SELECT customer_id, tenure_months FROM customers"), suite).summary
    missing = {f.column: f.reason for f in summary.failures}
    assert missing["region"] == ("column 'region' is not in the data "
                                 "(columns: customer_id, tenure_months)")


def test_a_missing_table_is_an_unusable_batch(lite, suite):
    summary = validate_source(SqlSource.on_url(lite, table="nowhere"), suite).summary
    assert not summary.success and summary.evaluated == 0
    assert summary.error.endswith("table 'nowhere' does not exist in the default schema")
    assert summary.error.startswith("table nowhere on sqlite:///")


def test_no_rows_is_an_unusable_batch(lite, suite):
    summary = validate_source(SqlSource.on_url(lite, table="customers", where="1 = 0"),
                              suite).summary
    assert "data set has no rows (columns: customer_id, " in summary.error


def test_a_refusing_database_raises_for_a_retry(suite):
    source = SqlSource.on_url("postgresql+psycopg2://postgres@127.0.0.1:1/x", table="t")
    with pytest.raises(SqlUnreachableError):
        validate_source(source, suite)


def test_one_summary_pass_gives_the_results_of_two_passes(lite, suite):
    from airflow_mlops.core.sql_validation import _validator
    from airflow_mlops.core.validation import _evaluate, evaluate_in_one_pass

    source = SqlSource.on_url(lite, table="customers", where="customer_id >= 0")
    one = evaluate_in_one_pass(_validator(source), suite, source.name)
    two = _evaluate(None, suite, source.name, validator=_validator(source))
    assert [r["success"] for r in one] == [r["success"] for r in two]
    assert [r for r in one if not r["success"]] == [r for r in two if not r["success"]]
    assert sum(not r["success"] for r in one) == 2
    summary = validate_source(source, suite)
    assert summary.result["result_format"] == "SUMMARY"
    assert summary.summary.failures == validate_frame(
        source.read(source.select()), suite, data_name="file").summary.failures


# --- PostgreSQL ---------------------------------------------------------------------------


def test_a_postgres_table_fails_like_the_same_rows_in_a_file(postgres, broken, suite):
    import sqlalchemy as sa

    engine = sa.create_engine(postgres)
    broken.to_sql("broken", engine, schema="public", index=False, if_exists="replace")
    engine.dispose()
    in_database = validate_source(SqlSource.on_url(postgres, table="public.broken"),
                                  suite).summary
    from_file = validate_frame(broken, suite, data_name="file").summary
    assert in_database.failures == from_file.failures and in_database.rows == 700


def test_a_postgres_partition_passes(pg_customers, customers, suite):
    summary = validate_source(SqlSource.on_url(pg_customers, table="public.customers",
                                               where="mod(customer_id, 7) <> 0"), suite).summary
    assert summary.success
    assert summary.rows == int((customers.head(700)["customer_id"] % 7 != 0).sum()) < 700


def test_a_postgres_timeout_is_an_unusable_batch(pg_customers, suite):
    source = SqlSource.on_url(pg_customers, query="SELECT c.*, pg_sleep(0.01) AS nap "
                              "FROM public.customers c", timeout_seconds=0.5)
    summary = validate_source(source, suite).summary
    assert summary.error.endswith("the query timed out after 0.5 s (statement_timeout)")


def test_a_column_of_an_unmappable_type_is_named(postgres, suite):
    import sqlalchemy as sa

    engine = sa.create_engine(postgres)
    with engine.begin() as connection:
        connection.execute(sa.text("DROP TABLE IF EXISTS spots"))
        connection.execute(sa.text("CREATE TABLE spots AS SELECT customer_id, "
                                   "point(tenure_months, 0) AS tenure_months FROM customers"))
    engine.dispose()
    only = suite.__class__(name="spots", source="spots.json", expectations=[
        e for e in suite.expectations if e["kwargs"].get("column") in ("tenure_months",)])
    summary = validate_source(SqlSource.on_url(postgres, table="public.spots"), only).summary
    reasons = {f.reason for f in summary.failures}
    assert reasons == {"column 'tenure_months' has database type point, which Great "
                       "Expectations cannot map"}


@pytest.fixture
def delivered():
    """Per statement run through SQLAlchemy, how many rows the driver delivered."""
    import sqlalchemy as sa

    counts: list[tuple[int, str]] = []

    def count(connection, cursor, statement, parameters, context, executemany):
        if cursor.description is not None:  # a statement that returns rows
            counts.append((cursor.rowcount, statement))

    sa.event.listen(sa.engine.Engine, "after_cursor_execute", count)
    yield counts
    sa.event.remove(sa.engine.Engine, "after_cursor_execute", count)


@pytest.fixture
def pg_broken(postgres, broken) -> str:
    """``postgres`` with table ``public.broken``: the ``broken`` customers."""
    import sqlalchemy as sa

    engine = sa.create_engine(postgres)
    broken.to_sql("broken", engine, schema="public", index=False, if_exists="replace")
    engine.dispose()
    return postgres


@pytest.mark.parametrize("rows", [
    {"table": "public.broken", "where": "customer_id >= 0"},
    {"query": "SELECT * FROM public.broken"},
], ids=["partition", "query"])
def test_a_postgres_partition_or_query_brings_no_rows_to_the_worker(
        pg_broken, suite, delivered, monkeypatch, rows):
    from airflow_mlops.core import sql_validation

    fixed = validate_source(SqlSource.on_url(pg_broken, **rows), suite)
    with_fix = max(count for count, _ in delivered)
    delivered.clear()
    monkeypatch.setattr(sql_validation, "_fetch_no_rows_for_columns", lambda *args: None)
    unfixed = validate_source(SqlSource.on_url(pg_broken, **rows), suite)
    without_fix = max(count for count, _ in delivered)
    assert with_fix <= 20 < 700 == without_fix  # 20: GX's examples of unexpected values
    assert fixed.summary == unfixed.summary and not fixed.summary.success
    assert fixed.result == unfixed.result
