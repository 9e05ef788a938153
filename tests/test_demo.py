"""make demo: three nights of real DAG runs, told in a few lines; Airflow's logs go to a file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.e2e


def test_the_demo_prints_each_night_the_blocked_checks_and_the_table(tmp_path):
    home = tmp_path / "demo"
    done = subprocess.run([sys.executable, str(REPO / "demo" / "run.py"), "--home", str(home)],
                          capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    log = home / "airflow.log"

    assert len(lines) < 40, done.stdout
    assert lines[0].endswith(f"Airflow's logs go to {log}")
    assert "Traceback" not in done.stdout + done.stderr
    assert "[info" not in done.stdout  # no Airflow log line reached the terminal
    nights = [line for line in lines if line.startswith("night ")]
    assert [line.split(":")[0] for line in nights[:3]] == [
        "night 1 (2026-01-01)", "night 2 (2026-01-02)", "night 3 (2026-01-03)"]
    assert "validation passed on 1500 rows" in nights[0]
    assert "validation FAILED 3 of 12 checks on 1500 rows, nothing trained" in nights[2]
    checks = lines[lines.index(nights[2]) + 1: lines.index(nights[2]) + 4]
    assert sorted(tuple(line.split(": ")[:2]) for line in checks) == [
        ("  contract", "expect_column_values_to_be_in_set"),
        ("  customer_id", "expect_column_values_to_be_unique"),
        ("  tenure_months", "expect_column_values_to_be_between"),
    ]
    assert "40 of 1500 values are unexpected" in "".join(checks) and "e.g. -1" in "".join(checks)
    table = [line.split() for line in lines if line[:1].isdigit()]
    assert [row[:3] for row in table] == [["1", "2026-01-01", "success"],
                                          ["2", "2026-01-02", "success"],
                                          ["3", "2026-01-03", "failed"]]
    assert table[0][-2:] == ["promote", "1"] and table[2][-3:-1] == ["blocked:", "validation"]
    logs = log.read_text()
    assert "Traceback" in logs and "AirflowFailException" in logs  # night 3's, kept here
    assert "DagRun Finished: dag_id=nightly_retrain_churn" in logs
