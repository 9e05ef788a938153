"""The airflow-mlops command line: validate and suite init, exit codes and output."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_mlops.cli.main import EXIT_FAILED, EXIT_OK, EXIT_UNUSABLE, build_parser, main


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def good(tmp_path, customers) -> Path:
    path = tmp_path / "day.csv"
    customers.head(600).to_csv(path, index=False)
    return path


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


def test_suite_init_writes_a_suite_the_data_passes(good, tmp_path, capsys):
    out = tmp_path / "expectations" / "customers.json"
    assert main(["suite", "init", str(good), "--out", str(out)]) == EXIT_OK
    printed = capsys.readouterr().out
    suite = json.loads(out.read_text())
    assert printed.startswith(f"wrote {out}: {len(suite['expectations'])} expectations")
    assert f"checked: {good} passes all of them" in printed
    assert suite["name"] == "customers"
    assert main(["validate", str(good), "--suite", str(out)]) == EXIT_OK


def test_suite_init_keeps_an_existing_suite(good, tmp_path, capsys):
    out = tmp_path / "customers.json"
    out.write_text("{}")
    assert main(["suite", "init", str(good), "--out", str(out)]) == EXIT_UNUSABLE
    assert "already exists; pass --force" in capsys.readouterr().err
    assert out.read_text() == "{}"
    assert main(["suite", "init", str(good), "--out", str(out), "--force",
                 "--margin", "0.5", "--max-categories", "2"]) == EXIT_OK
    region = [e for e in json.loads(out.read_text())["expectations"]
              if e["kwargs"].get("column") == "region"]
    assert "expect_column_values_to_be_in_set" not in {e["type"] for e in region}


def test_suite_init_over_partitions(customers, tmp_path, capsys):
    for month in (1, 2, 3):
        part = tmp_path / "history" / f"ds=2026-0{month}" / "part.csv"
        part.parent.mkdir(parents=True)
        customers.iloc[(month - 1) * 100 : month * 100 + month].to_csv(part, index=False)
    out = tmp_path / "customers.json"
    assert main(["suite", "init", str(tmp_path / "history"), "--out", str(out)]) == EXIT_OK
    assert "expectations from 3 reference batches" in capsys.readouterr().out
    (rows,) = [e["kwargs"] for e in json.loads(out.read_text())["expectations"]
               if e["type"] == "expect_table_row_count_to_be_between"]
    assert rows == {"min_value": 90, "max_value": 114}  # 101..103 rows, widened by 10 %
    assert main(["suite", "init", str(tmp_path / "history" / "*" / "part.csv"), "--out",
                 str(out), "--force", "--rows", "50:150", "--strict-nulls"]) == EXIT_OK
    suite = json.loads(out.read_text())["expectations"]
    assert {"type": "expect_table_row_count_to_be_between",
            "kwargs": {"min_value": 50, "max_value": 150}} in suite
    assert {"type": "expect_column_values_to_not_be_null",
            "kwargs": {"column": "region"}} in suite
    capsys.readouterr()
    assert main(["suite", "init", str(tmp_path / "history"), "--out", str(out), "--force",
                 "--rows", "many"]) == EXIT_UNUSABLE
    assert capsys.readouterr().err == \
        "error: --rows 'many': expected MIN:MAX, e.g. 25:35\n"


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
