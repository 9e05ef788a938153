"""Validation with real GX and real files: a pass, every kind of bad input, suites, the summary."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from airflow_mlops.core.errors import DataError, SuiteError
from airflow_mlops.core.io import read_table
from airflow_mlops.core.validation import (
    MAX_SUMMARY_BYTES,
    Suite,
    ValidationSummary,
    bounded,
    check_data,
    load_suite,
    resolve_suite,
    validate_frame,
)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def validate_file(path: Path, suite: Path):
    """What the operator and the CLI do: read, then validate; the file must not change."""
    before = digest(path) if path.exists() else None
    try:
        return validate_frame(read_table(str(path)), suite, data_name=str(path)).summary
    finally:
        assert (digest(path) if path.exists() else None) == before


@pytest.fixture
def sample(customers):
    return customers.head(800).copy()


def test_good_data_passes(tmp_path, sample, churn_suite):
    path = tmp_path / "customers.csv"
    sample.to_csv(path, index=False)
    summary = validate_file(path, churn_suite)
    assert summary.success
    assert (summary.rows, summary.evaluated, summary.failed) == (800, 12, 0)
    assert summary.failures == []
    assert summary.headline() == (f"{path}: 800 rows passed all 12 expectations of suite "
                                  f"{churn_suite}")


def test_parquet_passes_too(tmp_path, sample, churn_suite):
    path = tmp_path / "customers.parquet"
    sample.to_parquet(path, index=False)
    assert validate_file(path, churn_suite).success


# --- bad input: each names the file and the column or rule, and changes no file ----------


@pytest.mark.parametrize(("content", "message"), [
    (None, "data set not found"),
    (b"", r"file is empty \(0 bytes\)"),
    (b"customer_id,tenure_months\n", r"data set has no rows \(columns: customer_id, tenure"),
    (b"PAR1\x00\x01garbage", "cannot be read as PARQUET"),
], ids=["missing file", "0-byte file", "header-only CSV", "corrupt Parquet"])
def test_unusable_files(tmp_path, churn_suite, content, message):
    path = tmp_path / ("day.parquet" if content and content.startswith(b"PAR1") else "day.csv")
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DataError, match=message) as error:
        validate_file(path, churn_suite)
    assert str(error.value).startswith(f"{path}: ")


def failing(tmp_path: Path, frame, suite: Path) -> tuple[ValidationSummary, str]:
    path = tmp_path / "day.csv"
    frame.to_csv(path, index=False)
    summary = validate_file(path, suite)
    assert not summary.success
    message = summary.failure_message()
    assert message.startswith(f"{path} failed {summary.failed} of 12 expectations")
    assert "Traceback" not in message and 'File "' not in message
    return summary, message


def by_column(summary: ValidationSummary) -> dict[str, list]:
    found: dict[str, list] = {}
    for failure in summary.failures:
        found.setdefault(failure.column or "table", []).append(failure)
    return found


def test_missing_column(tmp_path, sample, churn_suite):
    summary, message = failing(tmp_path, sample.drop(columns=["region"]), churn_suite)
    failures = by_column(summary)
    assert failures["table"][0].expectation == "expect_table_columns_to_match_ordered_list"
    assert failures["table"][0].reason == "missing column(s) 'region'"
    assert failures["region"][0].reason.startswith("column 'region' is not in the data")
    assert "expect_column_values_to_be_in_set" in message and "'region'" in message


def test_unexpected_extra_column(tmp_path, sample, churn_suite):
    summary, message = failing(tmp_path, sample.assign(coupon="x"), churn_suite)
    assert summary.failed == 1
    assert summary.failures[0].reason == "unexpected column(s) 'coupon'"
    assert "'coupon'" in message


def test_strings_in_a_numeric_column(tmp_path, sample, churn_suite):
    frame = sample.astype({"tenure_months": object})
    frame.loc[[3, 4], "tenure_months"] = ["twelve", "12 months"]
    summary, message = failing(tmp_path, frame, churn_suite)
    (failure,) = by_column(summary)["tenure_months"]
    assert failure.expectation == "expect_column_values_to_be_between"
    assert failure.reason == "column 'tenure_months' holds non-numeric values"
    assert failure.examples == ["twelve", "12 months"]
    assert failure.unexpected_percent == pytest.approx(0.25)
    assert "tenure_months" in message


def test_an_all_null_column(tmp_path, sample, churn_suite):
    summary, message = failing(tmp_path, sample.assign(tenure_months=None), churn_suite)
    (failure,) = by_column(summary)["tenure_months"]
    assert failure.expectation == "expect_column_values_to_not_be_null"
    assert failure.unexpected_percent == 100.0
    assert failure.reason.startswith("800 of 800 values are unexpected")
    assert "tenure_months: expect_column_values_to_not_be_null" in message


def test_nan_and_inf(tmp_path, sample, churn_suite):
    frame = sample.copy()
    frame.loc[1, "monthly_charges"] = np.nan
    frame.loc[2, "monthly_charges"] = np.inf
    summary, _ = failing(tmp_path, frame, churn_suite)
    failures = {f.expectation: f for f in by_column(summary)["monthly_charges"]}
    assert failures["expect_column_values_to_not_be_null"].reason.startswith("1 of 800 values")
    between = failures["expect_column_values_to_be_between"]
    assert between.examples == ["Infinity"]
    assert "max_value=500.0" in between.reason
    json.dumps(summary.to_dict(), allow_nan=False)  # strict JSON, no NaN or Infinity tokens


def test_duplicate_keys(tmp_path, sample, churn_suite):
    frame = sample.copy()
    frame.loc[10, "customer_id"] = frame.loc[11, "customer_id"]
    summary, message = failing(tmp_path, frame, churn_suite)
    (failure,) = summary.failures
    assert (failure.column, failure.expectation) == ("customer_id",
                                                    "expect_column_values_to_be_unique")
    assert failure.examples == [int(frame.loc[11, "customer_id"])]
    assert "customer_id: expect_column_values_to_be_unique: 2 of 800 values" in message


def write_suite(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "suite.json"
    path.write_text(text)
    return path


@pytest.mark.parametrize(("text", "message"), [
    ('{"name": "x", "expectations": [', r"not valid JSON \(line 1, column 32: Expecting value\)"),
    ('{"expectations": [{"type": "expect_column_to_be_awesome", "kwargs": {"column": "a"}}]}',
     r"expectations\[0\] \(expect_column_to_be_awesome\): unknown expectation type"),
    ('{"name": "x", "expectations": []}', "suite has no expectations; it would accept any data"),
    ('{"expectations": [{"type": "expect_column_values_to_be_between", '
     '"kwargs": {"min_value": 1}}]}',
     r"expectations\[0\] \(expect_column_values_to_be_between\): column: field required"),
    ('{"expectations": [{"type": "expect_column_values_to_be_between", '
     '"kwargs": {"column": "a", "min_value": "low"}}]}',
     r"min_value: value is not a valid float"),
    ('{"expectations": [{"type": "expect_column_to_exist", "kwarg": {"column": "a"}}]}',
     r"expectations\[0\] \(expect_column_to_exist\): unknown key\(s\) \['kwarg'\]"),
    ('{"expectations": [{"kwargs": {"column": "a"}}]}',
     r"expectations\[0\]: needs a 'type' naming the expectation"),
    ('["expect_column_to_exist"]', "expected a JSON object with an 'expectations' list"),
], ids=["malformed JSON", "unknown expectation type", "empty suite", "missing kwarg",
        "bad kwarg value", "unknown key", "no type", "not an object"])
def test_bad_suites(tmp_path, sample, text, message):
    suite = write_suite(tmp_path, text)
    data = tmp_path / "day.csv"
    sample.to_csv(data, index=False)
    before = digest(suite)
    with pytest.raises(SuiteError, match=message) as error:
        validate_file(data, suite)
    assert str(error.value).startswith(f"{suite}: ")
    assert "\n" not in str(error.value)
    assert digest(suite) == before


def test_a_missing_suite(tmp_path):
    with pytest.raises(SuiteError, match=r"nope\.json: expectation suite not found"):
        load_suite(tmp_path / "nope.json")


# --- the two passes and the result ---------------------------------------------------------


def test_details_only_for_failed_expectations_and_results_in_suite_order(sample, churn_suite):
    frame = sample.copy()
    frame.loc[0, "support_calls"] = 99
    validation = validate_frame(frame, churn_suite, data_name="day")
    results = validation.result["results"]
    suite = load_suite(churn_suite)
    assert [r["expectation_config"]["type"] for r in results] == \
        [e["type"] for e in suite.expectations]
    assert [r["success"] for r in results].count(False) == 1
    for result in results:
        row_level = result["expectation_config"]["type"].startswith("expect_column_values_")
        if not result["success"]:
            assert result["result"]["partial_unexpected_list"] == [99]  # SUMMARY
        elif row_level:
            assert result["result"] == {}  # BOOLEAN_ONLY
        else:  # aggregates cost the same at SUMMARY: their observed value comes at once
            assert set(result["result"]) == {"observed_value"}
    assert validation.result["results"][1]["result"]["observed_value"] == 800
    assert validation.result["statistics"] == {
        "evaluated_expectations": 12, "successful_expectations": 11,
        "unsuccessful_expectations": 1,
    }
    json.dumps(validation.result, allow_nan=False)


def test_gx_fetches_the_frame_once_and_changes_neither_it_nor_pandas(sample, churn_suite,
                                                                     monkeypatch):
    from great_expectations.execution_engine import PandasExecutionEngine

    fetch = PandasExecutionEngine.get_batch_data_and_markers
    fetched = []

    def counted_fetch(self, batch_spec):
        fetched.append(batch_spec)
        return fetch(self, batch_spec)

    monkeypatch.setattr(PandasExecutionEngine, "get_batch_data_and_markers", counted_fetch)
    frame = sample.copy()
    frame.loc[0, "support_calls"] = 99  # a row-level failure: a detail pass follows
    before, copy_on_write = frame.copy(), pd.get_option("mode.copy_on_write")
    summary = validate_frame(frame, churn_suite, data_name="day").summary
    assert (summary.failed, summary.failures[0].examples) == (1, [99])
    assert len(fetched) == 1  # three passes, one fetch (and one fingerprint of the frame)
    pd.testing.assert_frame_equal(frame, before)
    assert pd.get_option("mode.copy_on_write") == copy_on_write


def test_the_summary_stays_under_4_kb(sample):
    long_values = [f"{'v' * 200}-{i}" for i in range(40)]
    expectations = [
        {"type": "expect_column_values_to_be_in_set",
         "kwargs": {"column": column, "value_set": long_values[: 10 + i]}}
        for i, column in enumerate(["contract", "region"] * 30)
    ]
    summary = validate_frame(sample, Suite("many", "many.json", expectations),
                             data_name="day").summary
    assert summary.failed == 60
    assert summary.describe_failures().count("expect_column_values_to_be_in_set") == 10
    assert summary.describe_failures().endswith("; and 50 more")
    data = summary.to_dict()
    assert len(json.dumps(data)) <= MAX_SUMMARY_BYTES
    assert data["failed"] == 60
    assert data["omitted_failures"] == 60 - len(data["failures"]) > 0
    for failure in data["failures"]:
        assert len(failure["examples"]) <= 5
        assert len(set(map(str, failure["examples"]))) == len(failure["examples"])
        assert len(json.dumps(failure["reason"])) < 400


def test_aggregate_expectations_report_the_observed_value(sample):
    suite = Suite("s", "s.json", [{"type": "expect_column_mean_to_be_between",
                                   "kwargs": {"column": "tenure_months", "min_value": 100}}])
    (failure,) = validate_frame(sample, suite, data_name="day").summary.failures
    assert failure.observed_value == pytest.approx(sample["tenure_months"].mean())
    assert failure.reason.startswith("observed ")
    assert failure.reason.endswith("expected min_value=100.0")


# --- suites stored in a GX project (file context) ------------------------------------------


def tree(root: Path) -> dict[str, str]:
    return {str(p): digest(p) for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_suite_stored_in_a_gx_project(tmp_path, sample, churn_suite):
    import great_expectations as gx

    project = gx.get_context(mode="file", project_root_dir=str(tmp_path))
    stored = load_suite(churn_suite)
    project.suites.add(gx.ExpectationSuite(name="churn_stored",
                                           expectations=stored.expectations))
    root = tmp_path / "gx"
    before = tree(root)
    suite = resolve_suite("churn_stored", context_root_dir=root)
    assert suite.source == f"{root}:churn_stored"
    assert len(suite.expectations) == 12
    assert validate_frame(sample, suite, data_name="day").summary.success
    assert tree(root) == before  # validation ran in an ephemeral context
    with pytest.raises(SuiteError, match="the GX project has no suite named 'other'"):
        resolve_suite("other", context_root_dir=root)
    assert resolve_suite(churn_suite, context_root_dir=root).source == str(churn_suite)


def test_a_folder_without_a_gx_project(tmp_path):
    with pytest.raises(SuiteError, match=r"not a GX project \(no great_expectations.yml\)"):
        resolve_suite("churn", context_root_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_many_kinds_of_expectations_and_duplicates_keep_their_place(sample):
    expectations = [
        {"type": "expect_column_values_to_match_regex",
         "kwargs": {"column": "contract", "regex": "^[a-z-]+$"}},
        {"type": "expect_column_values_to_be_between",
         "kwargs": {"column": "tenure_months", "min_value": 0, "max_value": 10, "mostly": 0.1}},
        {"type": "expect_column_pair_values_a_to_be_greater_than_b",
         "kwargs": {"column_A": "support_calls", "column_B": "monthly_charges"}},
        {"type": "expect_compound_columns_to_be_unique",
         "kwargs": {"column_list": ["customer_id", "region"]}},
        {"type": "expect_column_values_to_be_between",
         "kwargs": {"column": "tenure_months", "max_value": 5,
                    "row_condition": 'region=="north"', "condition_parser": "pandas"},
         "meta": {"owner": "data-eng"}},
        {"type": "expect_column_max_to_be_between",
         "kwargs": {"column": "support_calls", "max_value": 1}},
        {"type": "expect_column_max_to_be_between",
         "kwargs": {"column": "support_calls", "max_value": 1}},
    ]
    validation = validate_frame(sample, Suite("kinds", "kinds.json", expectations),
                                data_name="day")
    results = validation.result["results"]
    assert [r["expectation_config"]["type"] for r in results] == \
        [e["type"] for e in expectations]
    assert [r["success"] for r in results] == [True, True, False, True, False, False, False]
    assert results[4]["expectation_config"]["meta"] == {"owner": "data-eng"}
    columns = [f.column for f in validation.summary.failures]
    assert columns == ["support_calls, monthly_charges", "tenure_months", "support_calls",
                       "support_calls"]


def test_check_data_turns_unusable_data_into_a_failed_validation(tmp_path, churn_suite):
    suite = load_suite(churn_suite)
    validation, frame = check_data(lambda: read_table(tmp_path / "none.csv", name="none.csv"),
                                   suite, data_name="none.csv")
    assert frame is None
    assert validation.summary.error == "none.csv: data set not found"
    assert validation.summary.failure_message() == \
        f"none.csv could not be validated against suite {churn_suite}: none.csv: data set " \
        "not found"
    assert validation.result["success"] is False


def test_bounded_cuts_long_strings_lists_and_objects_saying_how_much():
    value = {"text": "a" * 30, "items": list(range(7)),
             "nested": [{"deep": "b" * 30}], **{f"k{i}": i for i in range(3)}}

    assert bounded(value, text=10, items=5) == {
        "text": "aaaaaaaaaa... (30 characters)",
        "items": [0, 1, 2, 3, 4, "... and 2 more"],
        "nested": [{"deep": "bbbbbbbbbb... (30 characters)"}],
        "k0": 0, "k1": 1,
        "...": "and 1 more entries",
    }
    assert bounded([1, "short", None, 2.5]) == [1, "short", None, 2.5]
