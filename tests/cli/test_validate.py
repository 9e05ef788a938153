"""airflow-mlops validate: exit codes, the table of failures, JSON and reports."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from airflow_mlops.cli.common import EXIT_FAILED, EXIT_OK, EXIT_UNUSABLE
from airflow_mlops.cli.main import main


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def bad(tmp_path, customers) -> Path:
    frame = customers.head(600).copy()
    frame.loc[3, "region"] = "atlantis"
    frame.loc[4, "customer_id"] = frame.loc[5, "customer_id"]
    path = tmp_path / "bad.parquet"
    frame.to_parquet(path, index=False)
    return path


def test_validate_passing_data(good, churn_suite, capsys):
    assert main(["validate", str(good), "--suite", str(churn_suite)]) == EXIT_OK
    assert capsys.readouterr().out.strip() == \
        f"{good}: 600 rows passed all 12 expectations of suite {churn_suite}"


def test_validate_failing_data_prints_a_table(bad, churn_suite, customers, capsys):
    before = digest(bad)
    assert main(["validate", str(bad), "--suite", str(churn_suite)]) == EXIT_FAILED
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{bad} failed 2 of 12 expectations of suite {churn_suite}"
    assert lines[2].split() == ["COLUMN", "EXPECTATION", "UNEXPECTED", "%", "EXAMPLES",
                                "WHAT", "IS", "WRONG"]
    assert lines[3].split()[:4] == ["customer_id", "expect_column_values_to_be_unique", "0.33",
                                    str(customers.loc[5, "customer_id"])]
    assert lines[4].split()[:4] == ["region", "expect_column_values_to_be_in_set", "0.17",
                                    '"atlantis"']
    assert digest(bad) == before


def test_validate_json_prints_the_summary(bad, churn_suite, capsys):
    assert main(["validate", str(bad), "--suite", str(churn_suite), "--json"]) == EXIT_FAILED
    summary = json.loads(capsys.readouterr().out)
    assert (summary["success"], summary["rows"], summary["failed"]) == (False, 600, 2)
    assert {f["column"] for f in summary["failures"]} == {"customer_id", "region"}


def test_validate_writes_reports_on_request(bad, churn_suite, tmp_path, capsys):
    folder = tmp_path / "report"
    assert main(["validate", str(bad), "--suite", str(churn_suite), "--report",
                 str(folder)]) == EXIT_FAILED
    assert capsys.readouterr().out.rstrip().endswith(
        f"report: {folder / 'validation_report.html'}")
    assert json.loads((folder / "validation_result.json").read_text())["success"] is False


@pytest.mark.parametrize(("content", "message"), [
    (None, "data set not found"),
    (b"", "file is empty (0 bytes)"),
    (b"a,b\n", "data set has no rows (columns: a, b)"),
])
def test_validate_unusable_data_exits_2(tmp_path, churn_suite, capsys, content, message):
    path = tmp_path / "day.csv"
    if content is not None:
        path.write_bytes(content)
    assert main(["validate", str(path), "--suite", str(churn_suite), "--json"]) == EXIT_UNUSABLE
    assert json.loads(capsys.readouterr().out)["error"] == f"{path}: {message}"


def test_validate_with_a_malformed_suite_exits_2(good, tmp_path, capsys):
    suite = tmp_path / "suite.json"
    suite.write_text("{not json")
    assert main(["validate", str(good), "--suite", str(suite)]) == EXIT_UNUSABLE
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"error: {suite}: not valid JSON (line 1, column 2: " \
                           "Expecting property name enclosed in double quotes)\n"
