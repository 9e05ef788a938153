"""``airflow-mlops``: run a pipeline step locally, with the same core functions as the operators.

Each command group is added by one ``_add_*`` function; a command sets ``handler`` and
returns an exit code. Exit codes: 0 success, 1 a check failed, 2 unusable input.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from airflow_mlops import __version__
from airflow_mlops.core.errors import MlopsError

if TYPE_CHECKING:
    from airflow_mlops.core.validation import ValidationSummary

EXIT_OK, EXIT_FAILED, EXIT_UNUSABLE = 0, 1, 2
TABLE_COLUMNS = ("column", "expectation", "unexpected %", "examples", "what is wrong")


def _table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = []
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append("  ".join([*cells, row[-1]]))
    return "\n".join(lines)


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
        lines += ["", _table(rows)]
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


def _suite_init(args: argparse.Namespace) -> int:
    from airflow_mlops.core.profiling import parse_rows, profile_suite, read_history, write_suite
    from airflow_mlops.core.validation import load_suite, validate_frame

    batches = read_history(args.data)
    reference = " ".join(args.data)
    suite = profile_suite([frame for _, frame in batches], name=args.out.stem,
                          reference=reference, margin=args.margin,
                          max_categories=args.max_categories,
                          rows=parse_rows(args.rows) if args.rows else None,
                          null_tolerance=args.null_tolerance, strict_nulls=args.strict_nulls)
    path = write_suite(suite, args.out, overwrite=args.force)
    print(f"wrote {path}: {len(suite['expectations'])} expectations from {len(batches)} "
          f"reference batch{'es' if len(batches) > 1 else ''}")
    for note in suite["meta"]["notes"]:
        print(f"note: {note}")
    for file, frame in batches:
        check = validate_frame(frame, load_suite(path), data_name=file).summary
        if not check.success:
            print(f"error: {file} does not pass its own suite: {check.describe_failures()}",
                  file=sys.stderr)
            return EXIT_FAILED
    print(f"checked: {reference} passes all of them; review the rules before committing")
    return EXIT_OK


def _add_validate(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("validate", help="validate a data set against a GX suite",
                                 description="Exit code 0: passed; 1: expectations failed; "
                                 "2: the data or the suite is unusable.")
    from airflow_mlops.cli.sql import add_database_arguments

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


def _add_suite(commands: argparse._SubParsersAction) -> None:
    from pathlib import Path

    suite = commands.add_parser("suite", help="work with expectation suites")
    actions = suite.add_subparsers(dest="action", required=True, metavar="ACTION")
    init = actions.add_parser("init", help="profile a reference data set into a starter suite")
    init.add_argument("data", nargs="+",
                      help="reference CSV or Parquet files, glob patterns or folders of "
                      "partitions; each file is one batch")
    init.add_argument("--out", required=True, type=Path, help="expectations/NAME.json")
    init.add_argument("--margin", type=float, default=0.1,
                      help="widen numeric ranges by this fraction of their spread (0.1)")
    init.add_argument("--max-categories", type=int, default=20,
                      help="columns with at most this many values get a value set (20)")
    init.add_argument("--rows", metavar="MIN:MAX",
                      help="rows a batch may have (default: the reference batches' counts, "
                      "widened by the margin; one file: half to twice its rows)")
    init.add_argument("--null-tolerance", type=float, default=0.01,
                      help="share of nulls a batch may hold beyond the reference's, at least "
                      "(0.01; see the README)")
    init.add_argument("--strict-nulls", action="store_true",
                      help="columns without nulls in the reference may have none")
    init.add_argument("--force", action="store_true", help="replace an existing file")
    init.set_defaults(handler=_suite_init)


def _add_models(commands: argparse._SubParsersAction) -> None:
    from airflow_mlops.cli.models import add_models

    add_models(commands)


def _add_config(commands: argparse._SubParsersAction) -> None:
    from airflow_mlops.cli.config import add_config

    add_config(commands)


def _add_drift(commands: argparse._SubParsersAction) -> None:
    from airflow_mlops.cli.drift import add_drift

    add_drift(commands)


COMMAND_GROUPS = (_add_validate, _add_suite, _add_models, _add_config, _add_drift)


def build_parser() -> argparse.ArgumentParser:
    """The ``airflow-mlops`` argument parser with every command group."""
    parser = argparse.ArgumentParser(
        prog="airflow-mlops", description="Run airflow-mlops pipeline steps locally."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in COMMAND_GROUPS:
        add(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; errors the user can act on print one line, not a traceback."""
    args = build_parser().parse_args(argv)
    # GX logs its import at INFO, which would bury the command's own output.
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    try:
        return args.handler(args)
    except MlopsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE


if __name__ == "__main__":
    sys.exit(main())
