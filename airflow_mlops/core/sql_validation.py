"""Validation inside the database: GX 1.x SQL execution on a table or query.

The rows never leave the database: GX computes each expectation's metrics as SQL (counts,
aggregates, and for a failed row-level expectation a few example values). The suite is
evaluated in one SUMMARY pass (each pass is a round of queries over the rows); the summary,
the explanations of failures and the reports are those of
:mod:`airflow_mlops.core.validation`, so a table gives the same account as a file of the
same rows.

GX learns a query's columns (a query, or a table with a WHERE clause) by running the query
bare; with a client-side cursor (psycopg2's, say) that brings every row to this process.
:func:`_fetch_no_rows_for_columns` rewrites exactly that statement so it returns the
columns and no row.

On PostgreSQL (psycopg2), GX doubles a ``%`` in the query it runs: write ``mod(a, b)``
rather than ``a % b`` in a WHERE clause or query validated in the database.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from airflow_mlops.core.errors import DataError
from airflow_mlops.core.sql_sources import (
    SqlSource,
    SqlSourceError,
    SqlUnreachableError,
    split_table,
)
from airflow_mlops.core.validation import (
    Suite,
    Validation,
    _exception_message,
    evaluate_in_one_pass,
    validation_of,
)

TIMEOUT_SIGNS = ("statement timeout", "canceling statement")
UNREACHABLE_SIGNS = ("could not connect", "connection refused", "server closed the connection")


def _validator(source: SqlSource):
    """A GX validator on ``source``'s rows, in an ephemeral context of its own."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.validator.v1_validator import Validator

    chatty = logging.getLogger("great_expectations.data_context.types.base")  # INFO by GX
    level = chatty.level
    chatty.setLevel(logging.WARNING)
    try:
        context = gx.get_context(mode="ephemeral")
    finally:
        chatty.setLevel(level)
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    sources = context.data_sources
    add = {"postgresql": sources.add_postgres, "sqlite": sources.add_sqlite}.get(
        source.dialect, sources.add_sql)
    options = {"kwargs": source.engine_kwargs()} if source.engine_kwargs() else {}
    try:
        datasource = add("airflow_mlops", connection_string=source.url, **options)
        # GX reads a table's columns from the catalog, a query's by running it bare.
        if source.table is not None and not source.where:
            schema, table = split_table(source.table)
            asset = datasource.add_table_asset(
                "rows", table_name=table, **({"schema_name": schema} if schema else {}))
        else:
            asset = datasource.add_query_asset("rows", query=source.select())
            _fetch_no_rows_for_columns(datasource.get_execution_engine().engine, asset.query)
    except Exception as exc:  # GX tests the connection and the query when they are added
        raise SqlSourceError(f"{source.name}: Great Expectations cannot read it: "
                             f"{_first_line(exc)}") from None
    batch = asset.add_batch_definition_whole_table("whole")
    return Validator(batch_definition=batch, batch_parameters={})


def _fetch_no_rows_for_columns(engine, query: str) -> None:
    """Make ``engine`` run ``query`` itself (GX's column lookup) as a query of no rows.

    Every other statement GX runs wraps the query in a subquery, so only the lookup is the
    query's exact text.
    """
    import sqlalchemy as sa

    bare = str(sa.text(query).compile(dialect=engine.dialect)).strip()

    def no_rows(connection, cursor, statement, parameters, context, executemany):
        if statement.strip() == bare:
            statement = f"SELECT * FROM ({bare}) AS airflow_mlops_rows WHERE 1 = 0"
        return statement, parameters

    sa.event.listen(engine, "before_cursor_execute", no_rows, retval=True)


def _first_line(exc: BaseException) -> str:
    from airflow_mlops.core.io import short

    return short(getattr(exc, "orig", None) or exc)


def _raise_for_database(source: SqlSource, results: list[dict]) -> None:
    """A timeout or a lost connection inside GX's queries is the source's, not a rule's."""
    for result in results:
        message = (_exception_message(result) or "").lower()
        if any(sign in message for sign in TIMEOUT_SIGNS):
            raise SqlSourceError(f"{source.name}: {source.timed_out()}")
        if any(sign in message for sign in UNREACHABLE_SIGNS):
            raise SqlUnreachableError(f"{source.connection}: the database refused or did "
                                      "not answer while validating")


def _name_unreadable(validation: Validation, unreadable: dict[str, str]) -> Validation:
    """Failures on columns of a type GX cannot map say so, naming the column and type."""
    if not unreadable:
        return validation
    failures = []
    for failure in validation.summary.failures:
        column = failure.column if failure.column in unreadable else None
        if column is not None:
            failure = replace(failure, reason=f"column {column!r} has database type "
                              f"{unreadable[column]}, which Great Expectations cannot map")
        failures.append(failure)
    return replace(validation, summary=replace(validation.summary, failures=failures))


def validate_source(source: SqlSource, suite: Suite) -> Validation:
    """Validate ``source``'s rows against ``suite`` inside the database.

    Rows that cannot be read (a missing table or column, a failing or timed-out query, no
    rows) give a failed validation with the reason, as unreadable files do.

    :raises SqlUnreachableError: the database refused or did not answer (a retry may pass).
    :raises SuiteError: the suite is malformed or names an unknown expectation.
    """
    import pandas as pd

    name = source.name
    try:
        columns = source.columns()
        rows = source.count()
        if rows == 0:
            raise SqlSourceError(f"{name}: data set has no rows (columns: "
                                 f"{', '.join(columns) or 'none'})")
        results = evaluate_in_one_pass(_validator(source), suite, name)
        _raise_for_database(source, results)
    except DataError as exc:
        return Validation.unusable(name, suite.source, str(exc))
    validation = validation_of(results, suite, pd.DataFrame(columns=columns), data_name=name,
                               rows=rows, result_format="SUMMARY")
    return _name_unreadable(validation, source.unreadable_columns())
