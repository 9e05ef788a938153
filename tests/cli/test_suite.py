"""airflow-mlops suite init: a starter suite its reference data passes, from files or partitions."""

from __future__ import annotations

import json

from airflow_mlops.cli.common import EXIT_OK, EXIT_UNUSABLE
from airflow_mlops.cli.main import main


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
