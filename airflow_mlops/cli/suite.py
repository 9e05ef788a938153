"""``airflow-mlops suite init``: profile reference data into a starter expectation suite."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from airflow_mlops.cli.common import EXIT_FAILED, EXIT_OK


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


def add_arguments(suite: argparse.ArgumentParser) -> None:
    """The ``suite`` command group's actions."""
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
