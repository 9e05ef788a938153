"""The airflow-mlops parser and its installed entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_mlops.cli.common import EXIT_OK
from airflow_mlops.cli.main import build_parser


def test_commands_are_subparsers_later_issues_can_extend():
    parser = build_parser()
    with pytest.raises(SystemExit):
        parser.parse_args([])
    args = parser.parse_args(["suite", "init", "d.csv", "--out", "x.json"])
    assert (args.command, args.action, args.out) == ("suite", "init", Path("x.json"))


def test_the_installed_entry_point_runs(good, churn_suite):
    script = Path(sys.executable).with_name("airflow-mlops")
    done = subprocess.run([str(script), "validate", str(good), "--suite", str(churn_suite),
                           "--json"], capture_output=True, text=True)
    assert done.returncode == EXIT_OK, done.stderr
    assert json.loads(done.stdout)["success"] is True


def test_reproduce_help_states_the_tolerance_reproduce_uses(capsys):
    from airflow_mlops.core.reproduce import DEFAULT_TOLERANCE

    with pytest.raises(SystemExit):
        build_parser().parse_args(["models", "reproduce", "--help"])
    assert f"still matches ({DEFAULT_TOLERANCE:g})" in " ".join(capsys.readouterr().out.split())


# Prints the command modules of ``airflow_mlops.cli`` that ``airflow-mlops ARGV`` imported.
COMMAND_MODULES = """
import atexit, sys
from airflow_mlops.cli.main import COMMANDS, main
atexit.register(lambda: print(sorted(name for name in COMMANDS
                                     if f"airflow_mlops.cli.{name}" in sys.modules)))
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize(("argv", "imported"), [
    (["--help"], []),
    (["--version"], []),
    (["drift", "--help"], ["drift"]),
    (["models", "status", "--help"], ["models"]),
])
def test_only_the_chosen_command_s_module_is_imported(argv, imported):
    done = subprocess.run([sys.executable, "-c", COMMAND_MODULES, *argv],
                          capture_output=True, text=True)
    assert done.stdout.splitlines()[-1] == repr(imported), done.stderr


def test_help_lists_every_command_as_the_full_parser_does(capsys):
    from airflow_mlops.cli.main import COMMANDS, main

    with pytest.raises(SystemExit):
        main(["--help"])
    lazy = capsys.readouterr().out
    assert lazy == build_parser().format_help()
    for name, summary in COMMANDS.items():
        assert f"{name}  " in lazy and summary in lazy


def test_an_unknown_command_is_refused_with_the_choices(capsys):
    from airflow_mlops.cli.main import main

    with pytest.raises(SystemExit) as exit_info:
        main(["bogus"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'bogus' (choose from 'validate', 'suite'" in capsys.readouterr().err
