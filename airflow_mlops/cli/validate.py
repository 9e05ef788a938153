"""``airflow-mlops validate``: a data set (a file, or rows in a database) against a GX suite."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from airflow_mlops.cli.common import EXIT_FAILED, EXIT_OK, EXIT_UNUSABLE, table
from airflow_mlops.cli.sql import add_database_arguments

if TYPE_CHECKING:
    from airflow_mlops.core.validation import ValidationSummary

TABLE_COLUMNS = ("column", "expectation", "unexpected %", "examples", "what is wrong")


def format_summary(summary: ValidationSummary) -> str:
    """The summary as text: a headline, then one table row per failed expectation."""
    lines = [summary.headline()]
    if summary.error:
        lines.append(f"error: {summary.error}")
    if summary.failures:
        rows = [tuple(c.upper() for c in TABLE_COLUMNS)]
        for failure in summary.failures:
            percent = failure.unexpected_percent
            rows.append((
                failure.column or "(table)",
                failure.expectation,
                "" if percent is None else f"{percent:.2f}",
                ", ".join(json.dumps(v) for v in failure.examples),
                failure.reason,
            ))
        lines += ["", table(rows)]
    if summary.report:
        lines += ["", f"report: {summary.report}"]
    return "\n".join(lines)


def _validate(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from airflow_mlops.cli.sql import database_validation
    from airflow_mlops.core.io import read_table
    from airflow_mlops.core.reports import write_reports
    from airflow_mlops.core.validation import check_data, resolve_suite

    suite = resolve_suite(args.suite, args.context_root_dir)
    validation = database_validation(args, suite)
    if validation is None:
        validation, _ = check_data(lambda: read_table(args.data), suite, data_name=args.data)
    summary, result = validation.summary, validation.result
    if args.report:
        summary = replace(summary, report=write_reports(args.report, summary, result))
    print(json.dumps(summary.to_dict(), indent=2) if args.json else format_summary(summary))
    if summary.error:
        return EXIT_UNUSABLE
    return EXIT_OK if summary.success else EXIT_FAILED


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``validate`` command's arguments."""
    parser.description = ("Exit code 0: passed; 1: expectations failed; "
                          "2: the data or the suite is unusable.")
    parser.add_argument("data", nargs="?",
                        help="CSV or Parquet file: local path or fsspec URI (or use --db)")
    add_database_arguments(parser)
    parser.add_argument("--suite", required=True,
                        help="GX ExpectationSuite JSON file (or a suite name, with --gx-project)")
    parser.add_argument("--gx-project", dest="context_root_dir", metavar="DIR",
                        help="GX project folder (with great_expectations.yml) to take the "
                        "suite from")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--report", metavar="DIR",
                        help="also write the full JSON result and an HTML report here")
    parser.set_defaults(handler=_validate)
