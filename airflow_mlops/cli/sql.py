"""``airflow-mlops validate --db``: validate a table or query inside its database."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from airflow_mlops.core.errors import ConfigError

if TYPE_CHECKING:
    from airflow_mlops.core.validation import Suite, Validation


def add_database_arguments(parser: argparse.ArgumentParser) -> None:
    """The options naming a database, and a table or query on it."""
    database = parser.add_argument_group(
        "in the database", "validate a table or query where it lives, instead of a file")
    where = database.add_mutually_exclusive_group()
    where.add_argument("--db", metavar="URL", help="SQLAlchemy URL, e.g. "
                       "postgresql+psycopg2://user@host/db or sqlite:///path.db")
    where.add_argument("--conn-id", metavar="ID", help="Airflow connection of the database")
    rows = database.add_mutually_exclusive_group()
    rows.add_argument("--table", metavar="NAME", help="schema.table or table")
    rows.add_argument("--sql", metavar="QUERY", help="a SELECT query")
    database.add_argument("--where", metavar="CONDITION",
                          help="SQL condition selecting the table's partition")
    database.add_argument("--timeout", type=float, metavar="SECONDS",
                          help="statement timeout (PostgreSQL)")


def database_validation(args: argparse.Namespace, suite: Suite) -> Validation | None:
    """The in-database validation the options ask for; None when they name a file.

    :raises ConfigError: the options mix a file and a database, or name no rows.
    """
    from airflow_mlops.core.sql_sources import SqlSource
    from airflow_mlops.core.sql_validation import validate_source

    connected = args.db or args.conn_id
    if not connected:
        if args.table or args.sql or args.where:
            raise ConfigError("--table, --sql and --where need --db or --conn-id")
        if not args.data:
            raise ConfigError("give a data file, or --db/--conn-id with --table or --sql")
        return None
    if args.data:
        raise ConfigError(f"give a data file ({args.data}) or a database, not both")
    if not (args.table or args.sql):
        raise ConfigError("--db and --conn-id need --table or --sql")
    rows = {"table": args.table, "where": args.where, "query": args.sql,
            "timeout_seconds": args.timeout}
    source = (SqlSource.on_url(args.db, **rows) if args.db
              else SqlSource.on_connection(args.conn_id, **rows))
    return validate_source(source, suite)
