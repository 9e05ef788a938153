"""``airflow-mlops``: run a pipeline step locally, with the same core functions as the operators.

Each command lives in its own module, whose ``add_arguments`` fills the command's parser; a
command sets ``handler`` and returns an exit code (:mod:`.common`). Only the chosen command's
module is imported, and a command imports the libraries it needs when it runs, so ``--help``
imports none of them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Collection, Sequence
from importlib import import_module

from airflow_mlops import __version__
from airflow_mlops.cli.common import EXIT_UNUSABLE
from airflow_mlops.core.errors import MlopsError

# Each command's one-line help; its arguments come from the module of its name, imported
# only when the command is chosen.
COMMANDS = {
    "validate": "validate a data set against a GX suite",
    "suite": "work with expectation suites",
    "models": "aliases, decisions and alias history of a model",
    "config": "work with model configs",
    "drift": "measure drift of a data set against a reference (Evidently)",
}


def build_parser(commands: Collection[str] = COMMANDS) -> argparse.ArgumentParser:
    """The ``airflow-mlops`` parser; of the other commands only the name and help line."""
    parser = argparse.ArgumentParser(
        prog="airflow-mlops", description="Run airflow-mlops pipeline steps locally."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, summary in COMMANDS.items():
        command = subparsers.add_parser(name, help=summary)
        if name in commands:
            import_module(f"airflow_mlops.cli.{name}").add_arguments(command)
    return parser


def chosen_command(argv: Sequence[str]) -> list[str]:
    """The command ``argv`` names, if any (every option before it is the program's own)."""
    first = next((word for word in argv if not word.startswith("-")), None)
    return [first] if first in COMMANDS else []


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; errors the user can act on print one line, not a traceback."""
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(chosen_command(argv)).parse_args(argv)
    import logging

    # GX logs its import at INFO, which would bury the command's own output.
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    try:
        return args.handler(args)
    except MlopsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
