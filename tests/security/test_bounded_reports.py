"""Bounded results: one huge value in the data cannot blow up the validation or drift reports
(real GX, real Evidently)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from airflow_mlops.core import drift, validation
from airflow_mlops.core.drift import DriftOptions, check_drift
from airflow_mlops.core.io import read_table
from airflow_mlops.core.reports import report_files
from airflow_mlops.core.validation import Suite, check_data

SUITE = Suite("notes", "notes.json", [
    {"type": "expect_column_values_to_be_in_set",
     "kwargs": {"column": "note", "value_set": ["ok"]}},
    {"type": "expect_column_value_lengths_to_be_between",
     "kwargs": {"column": "note", "max_value": 100}},
    {"type": "expect_column_most_common_value_to_be_in_set",
     "kwargs": {"column": "note", "value_set": ["ok"]}},
])


def single_cell_csv(tmp_path, characters: int):
    path = tmp_path / "notes.csv"
    with path.open("w") as file:
        file.write(f'note,amount\n"{"x" * characters}",1\n')
    return path


def validation_reports(path) -> dict[str, str]:
    checked, _ = check_data(lambda: read_table(path, name=str(path)), SUITE,
                            data_name=str(path))
    return report_files(checked.summary, checked.result)


def test_a_50_mb_cell_gives_validation_reports_of_a_few_kb_that_still_say_what_failed(
        tmp_path):
    path = single_cell_csv(tmp_path, 50_000_000)

    files = validation_reports(path)

    assert len(files["validation_result.json"]) < 100_000
    assert len(files["validation_report.html"]) < 100_000
    full = json.loads(files["validation_result.json"])
    failures = full["summary"]["failures"]
    assert [(f["column"], f["expectation"]) for f in failures] == [
        ("note", "expect_column_values_to_be_in_set"),
        ("note", "expect_column_value_lengths_to_be_between"),
        ("note", "expect_column_most_common_value_to_be_in_set")]
    assert "value_set=['ok']" in failures[0]["reason"]
    assert failures[0]["examples"] == ["x" * 117 + "..."]
    (example,) = full["results"][0]["result"]["partial_unexpected_list"]
    assert example == "x" * 1000 + "... (50000000 characters)"
    assert "note" in files["validation_report.html"]


def test_negative_control_without_the_bound_the_result_grows_with_the_cell(tmp_path,
                                                                           monkeypatch):
    path = single_cell_csv(tmp_path, 2_000_000)
    bounded = len(validation_reports(path)["validation_result.json"])

    monkeypatch.setattr(validation, "_bounded_result", lambda result: result)
    unbounded = len(validation_reports(path)["validation_result.json"])

    assert bounded < 100_000 < 3 * 2_000_000 < unbounded


def drift_files(characters: int) -> dict[str, str]:
    rng = np.random.default_rng(0)
    reference = pd.DataFrame({"note": rng.choice(["a", "b"], 500),
                              "amount": rng.normal(0, 1, 500)})
    current = reference.copy()
    current.loc[0, "note"] = "y" * characters
    result = check_drift(reference, current, columns=["note", "amount"],
                         options=DriftOptions())
    return drift.report_files(result.summary(current="window.csv"), result)


@pytest.fixture(scope="module")
def plain_drift_report() -> int:
    return len(drift_files(1)["drift_report.html"])


def test_a_huge_category_does_not_grow_the_drift_report(plain_drift_report):
    files = drift_files(5_000_000)

    assert len(files["drift_report.html"]) < plain_drift_report + 50_000
    assert len(files["drift_result.json"]) < 100_000
    assert "... (5000000 characters, " in files["drift_report.html"]


def test_negative_control_without_the_cut_the_drift_report_carries_the_value(
        plain_drift_report, monkeypatch):
    monkeypatch.setattr(drift, "MAX_CATEGORY", 10_000_000)

    assert len(drift_files(5_000_000)["drift_report.html"]) > plain_drift_report + 5_000_000
