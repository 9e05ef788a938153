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
