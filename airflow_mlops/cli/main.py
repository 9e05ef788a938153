"""``airflow-mlops``: run a pipeline step locally, with the same core functions as the operators.

Each command module adds its group with one ``add_*`` function; a command sets ``handler``
and returns an exit code (:mod:`.common`). A command imports the libraries it needs when it
runs, so building the parser (and ``--help``) imports none of them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from airflow_mlops import __version__
from airflow_mlops.cli.common import EXIT_UNUSABLE
from airflow_mlops.cli.config import add_config
from airflow_mlops.cli.drift import add_drift
from airflow_mlops.cli.models import add_models
from airflow_mlops.cli.suite import add_suite
from airflow_mlops.cli.validate import add_validate
from airflow_mlops.core.errors import MlopsError

COMMAND_GROUPS = (add_validate, add_suite, add_models, add_config, add_drift)


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
    import logging

    # GX logs its import at INFO, which would bury the command's own output.
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    try:
        return args.handler(args)
    except MlopsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
