"""suite init: a starter suite the reference data passes and that catches the usual breakage."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from airflow_mlops.core.errors import SuiteError
from airflow_mlops.core.profiling import (
    history_files,
    null_slack,
    parse_rows,
    profile_suite,
    read_history,
    write_suite,
)
from airflow_mlops.core.validation import load_suite, validate_frame


def rules(suite: dict, column: str) -> dict[str, dict]:
    return {e["type"]: e["kwargs"] for e in suite["expectations"]
            if e["kwargs"].get("column") == column}


@pytest.fixture
def customers_suite(customers, tmp_path):
    suite = profile_suite(customers, name="customers", reference="customers.csv")
    return suite, write_suite(suite, tmp_path / "expectations" / "customers.json")


def test_the_reference_data_passes_its_suite(customers, customers_suite):
    _, path = customers_suite
    summary = validate_frame(customers, load_suite(path), data_name="customers.csv").summary
    assert summary.success, summary.describe_failures()


def test_the_suite_has_the_promised_rules(customers, customers_suite):
    suite, path = customers_suite
    assert json.loads(path.read_text()) == suite
    assert suite["name"] == "customers"
    assert suite["meta"]["reference_rows"] == 4500
    table = [e for e in suite["expectations"] if "column" not in e["kwargs"]]
    assert table == [
        {"type": "expect_table_columns_to_match_ordered_list",
         "kwargs": {"column_list": list(customers.columns)}},
        {"type": "expect_table_row_count_to_be_between",
         "kwargs": {"min_value": 2250, "max_value": 9000}},
    ]
    tenure = rules(suite, "tenure_months")
    low, high = customers.tenure_months.min(), customers.tenure_months.max()
    assert tenure["expect_column_values_to_be_between"] == {
        "column": "tenure_months", "min_value": max(0, int(np.floor(low - 0.1 * (high - low)))),
        "max_value": int(np.ceil(high + 0.1 * (high - low))),
    }
    assert "int64" in tenure["expect_column_values_to_be_in_type_list"]["type_list"]
    assert tenure["expect_column_values_to_not_be_null"] == {"column": "tenure_months",
                                                             "mostly": 0.99}
    assert rules(suite, "region")["expect_column_values_to_be_in_set"]["value_set"] == \
        ["east", "north", "south", "west"]
    assert rules(suite, "region")["expect_column_values_to_be_in_type_list"]["type_list"] == \
        ["str"]
    assert rules(suite, "churned")["expect_column_values_to_be_in_set"]["value_set"] == [0, 1]
    assert "expect_column_values_to_be_in_set" not in rules(suite, "customer_id")
    unique = [e["kwargs"]["column"] for e in suite["expectations"]
              if e["type"] == "expect_column_values_to_be_unique"]
    assert unique == ["customer_id"]  # monthly_charges may be unique too, but is no key


@pytest.mark.parametrize(("breakage", "column", "expectation"), [
    (lambda f: f.astype({"tenure_months": object}).assign(tenure_months="x"), "tenure_months",
     "expect_column_values_to_be_in_type_list"),
    (lambda f: f.assign(region="atlantis"), "region", "expect_column_values_to_be_in_set"),
    (lambda f: f.assign(monthly_charges=f.monthly_charges * 10), "monthly_charges",
     "expect_column_values_to_be_between"),
    (lambda f: f.assign(contract=None), "contract", "expect_column_values_to_not_be_null"),
    (lambda f: f.head(100), None, "expect_table_row_count_to_be_between"),
    (lambda f: pd.concat([f, f.head(3)], ignore_index=True), "customer_id",
     "expect_column_values_to_be_unique"),
], ids=["strings in numbers", "new category", "out of range", "all null", "too few rows",
        "duplicate ids"])
def test_the_suite_catches_common_breakage(customers, customers_suite, breakage, column,
                                           expectation):
    _, path = customers_suite
    summary = validate_frame(breakage(customers.copy()), load_suite(path),
                             data_name="day").summary
    assert (column, expectation) in {(f.column, f.expectation) for f in summary.failures}


def test_mixed_types_nulls_and_infinities(tmp_path):
    frame = pd.DataFrame({
        "text": ["a", "b", None, "a", "b", "a"],
        "flag": [True, False, True, True, False, True],
        "ratio": [0.5, np.nan, 1.25, np.inf, 0.75, 1.0],
        "delta": [-5, -1, 0, 3, 2, 1],
        "empty": [None] * 6,
        "when": pd.to_datetime(["2026-01-01"] * 6),
        "kind": pd.Series(["x", "y", "x", "x", "y", "x"], dtype="category"),
    })
    suite = profile_suite(frame, name="mixed", reference="mixed.parquet")
    assert validate_frame(frame, load_suite(write_suite(suite, tmp_path / "m.json")),
                          data_name="mixed").summary.success
    assert rules(suite, "ratio")["expect_column_values_to_be_between"] == \
        {"column": "ratio", "min_value": 0.425}  # open above: the data holds +inf
    # 6 rows tell too little about nulls: a batch of 3 rows (the least accepted) may hold 3
    assert "expect_column_values_to_not_be_null" not in rules(suite, "ratio")
    assert "expect_column_values_to_not_be_null" not in rules(suite, "delta")
    assert rules(suite, "delta")["expect_column_values_to_be_between"] == \
        {"column": "delta", "min_value": -6, "max_value": 4}
    assert rules(suite, "empty") == {}
    assert suite["meta"]["notes"] == [
        "column 'empty' is empty (all null) in the reference data: no rules"]
    assert rules(suite, "flag")["expect_column_values_to_be_in_type_list"]["type_list"] == \
        ["bool", "boolean"]
    assert rules(suite, "kind")["expect_column_values_to_be_in_set"]["value_set"] == ["x", "y"]
    assert "expect_column_values_to_be_in_set" not in rules(suite, "when")


def test_uniqueness_only_for_key_columns_unique_in_the_reference(tmp_path):
    keys = ["A-1", "B-2", "C-3", "D-4", "E-5", "F-6"]
    frame = pd.DataFrame({
        "id": [6, 5, 4, 3, 2, 1],
        "order_key": keys,
        "userId": [10, 20, 30, None, 50, 60],  # read as floats; nulls are no duplicates
        "account_uuid": keys,
        "store_id": [1, 1, 2, 2, 3, 3],  # a key by name, but repeated: a foreign key
        "amount_id": [0.5, 1.5, 2.5, 3.5, 4.5, 5.5],  # floats are no keys
        "paid": [7, 8, 9, 10, 11, 12],  # ends in "id" but is no key name
        "serial": [101, 102, 103, 104, 105, 106],  # unique, but not named like a key
    })
    suite = profile_suite(frame, name="keys", reference="keys.csv")
    unique = [e["kwargs"]["column"] for e in suite["expectations"]
              if e["type"] == "expect_column_values_to_be_unique"]
    assert unique == ["id", "order_key", "userId", "account_uuid"]
    path = write_suite(suite, tmp_path / "keys.json")
    assert validate_frame(frame, load_suite(path), data_name="keys").summary.success
    repeated = frame.assign(order_key=["A-1", "A-1", *keys[2:]])
    (failure,) = validate_frame(repeated, load_suite(path), data_name="day").summary.failures
    assert (failure.column, failure.expectation) == ("order_key",
                                                     "expect_column_values_to_be_unique")
    assert failure.examples == ["A-1"]


def test_write_suite_keeps_an_existing_file_unless_forced(tmp_path, customers):
    path = tmp_path / "s.json"
    path.write_text("{}")
    suite = profile_suite(customers.head(10), name="s", reference="r")
    with pytest.raises(SuiteError, match="already exists; pass --force to replace it"):
        write_suite(suite, path)
    assert path.read_text() == "{}"
    write_suite(suite, path, overwrite=True)
    assert json.loads(path.read_text()) == suite


def test_bad_settings():
    with pytest.raises(SuiteError, match="margin and max_categories must be >= 0"):
        profile_suite(pd.DataFrame({"a": [1]}), name="s", reference="r", margin=-1)
    with pytest.raises(SuiteError, match="null_tolerance in"):
        profile_suite(pd.DataFrame({"a": [1]}), name="s", reference="r", null_tolerance=1)
    with pytest.raises(SuiteError, match="rows 5:2: need 1 <= MIN <= MAX"):
        profile_suite(pd.DataFrame({"a": [1]}), name="s", reference="r", rows=(5, 2))
    with pytest.raises(SuiteError, match=r"--rows '25-35': expected MIN:MAX"):
        parse_rows("25-35")
    assert parse_rows("25:35") == (25, 35)


# --- partitioned history: one batch per file, e.g. a month of daily weather per partition


def weather(start: str, end: str, seed: int) -> pd.DataFrame:
    """A daily weather-like series with a seasonal cycle; ``energy_demand`` is the target."""
    rng = np.random.default_rng(seed)
    days = pd.date_range(start, end, freq="D")
    season = np.cos(2 * np.pi * (days.dayofyear.to_numpy() - 15) / 365.25)
    temp = 8 - 10 * season + rng.normal(0, 2.5, len(days))
    return pd.DataFrame({
        "date": days.strftime("%Y-%m-%d"),
        "temp_max": np.round(temp + rng.uniform(3, 8, len(days)), 1),
        "temp_min": np.round(temp - rng.uniform(3, 8, len(days)), 1),
        "humidity": np.round(np.clip(75 + 10 * season + rng.normal(0, 6, len(days)), 20, 100)),
        "wind_speed": np.round(rng.gamma(2.0, 2.5, len(days)), 1),
        "precipitation": np.round(rng.exponential(1.5, len(days)) * rng.binomial(1, 0.4,
                                                                                   len(days)), 1),
        "energy_demand": np.round(500 - 12 * temp + rng.normal(0, 15, len(days)), 1),
    })


@pytest.fixture
def monthly_history(tmp_path) -> Path:
    """Twelve monthly partitions ``ds=2025-MM/part.csv`` (28 to 31 rows each)."""
    year = weather("2025-01-01", "2025-12-31", seed=7)
    months = pd.to_datetime(year.date).dt.strftime("%Y-%m")
    root = tmp_path / "history"
    for month, part in year.groupby(months):
        target = root / f"ds={month}" / "part.csv"
        target.parent.mkdir(parents=True)
        part.to_csv(target, index=False)
    (root / "ds=2025-01" / "_SUCCESS").write_text("")
    return root


def next_month(missing: bool = False) -> pd.DataFrame:
    frame = weather("2026-01-01", "2026-01-31", seed=8)
    if missing:
        frame.loc[17, "humidity"] = np.nan
    return frame


def check(suite: dict, frame: pd.DataFrame, tmp_path: Path):
    path = write_suite(suite, tmp_path / "suites" / f"{suite['name']}.json", overwrite=True)
    return validate_frame(frame, load_suite(path), data_name="2026-01").summary


def test_a_folder_of_monthly_partitions_profiles_per_batch(monthly_history, tmp_path):
    batches = read_history([str(monthly_history)])
    assert [Path(f).parent.name for f, _ in batches] == [f"ds=2025-{m:02d}" for m in range(1, 13)]
    suite = profile_suite([frame for _, frame in batches], name="weather",
                          reference=str(monthly_history))
    assert rules(suite, None)["expect_table_row_count_to_be_between"] == {
        "min_value": 25, "max_value": 35}  # 28 and 31 rows, widened by the 10 % margin
    assert suite["meta"]["reference_batches"] == {"count": 12, "min_rows": 28, "max_rows": 31}
    assert suite["meta"]["reference_rows"] == 365
    # no nulls in 365 days; a batch of 25 rows may still miss 3 values (3/25 = 0.12)
    assert rules(suite, "humidity")["expect_column_values_to_not_be_null"] == {
        "column": "humidity", "mostly": 0.88}
    for file, frame in batches:
        assert check(suite, frame, tmp_path).success, file
    assert check(suite, next_month(), tmp_path).success
    one_missing = check(suite, next_month(missing=True), tmp_path)
    assert one_missing.success, one_missing.describe_failures()


def test_a_single_file_of_the_whole_year_does_not_fit_a_month(monthly_history, tmp_path):
    """Profiling the year as one batch (what a single file means) expects 182..730 rows."""
    year = pd.concat([frame for _, frame in read_history([str(monthly_history)])])
    suite = profile_suite(year, name="weather", reference="year.csv")
    summary = check(suite, next_month(), tmp_path)
    assert {f.expectation for f in summary.failures} == {"expect_table_row_count_to_be_between"}


def test_strict_nulls_fail_a_month_with_one_missing_value(monthly_history, tmp_path):
    batches = [frame for _, frame in read_history([str(monthly_history)])]
    suite = profile_suite(batches, name="strict", reference="history", strict_nulls=True)
    assert rules(suite, "humidity")["expect_column_values_to_not_be_null"] == {
        "column": "humidity"}
    assert check(suite, next_month(), tmp_path).success
    (failure,) = check(suite, next_month(missing=True), tmp_path).failures
    assert (failure.column, failure.expectation) == ("humidity",
                                                     "expect_column_values_to_not_be_null")


def test_explicit_rows_and_null_tolerance(monthly_history):
    batches = [frame for _, frame in read_history([str(monthly_history)])]
    suite = profile_suite(batches, name="w", reference="history", rows=(100, 400),
                          null_tolerance=0.2)
    assert rules(suite, None)["expect_table_row_count_to_be_between"] == {
        "min_value": 100, "max_value": 400}
    assert rules(suite, "humidity")["expect_column_values_to_not_be_null"]["mostly"] == 0.8


def test_null_slack_grows_with_the_null_share_and_shrinks_with_the_batch():
    assert null_slack(0.0, 25, 0.01) == pytest.approx(0.12)  # three nulls in 25 rows
    assert null_slack(0.0, 10_000, 0.01) == 0.01  # the tolerance, for big batches
    assert null_slack(0.3, 25, 0.01) == pytest.approx(3 * np.sqrt(0.3 * 0.7 / 25))


def test_uniqueness_of_a_key_is_per_batch():
    """An id that restarts in every partition is unique within each: the rule holds."""
    batches = [pd.DataFrame({"row_id": [1, 2, 3], "x": [1.0, 2.0, 3.0]}) for _ in range(3)]
    suite = profile_suite(batches, name="k", reference="parts")
    assert "expect_column_values_to_be_unique" in rules(suite, "row_id")
    repeated = [*batches, pd.DataFrame({"row_id": [1, 1, 3], "x": [1.0, 2.0, 3.0]})]
    assert "expect_column_values_to_be_unique" not in rules(
        profile_suite(repeated, name="k", reference="parts"), "row_id")


def test_history_files_take_globs_folders_and_files_once(monthly_history):
    march = str(monthly_history / "ds=2025-03" / "part.csv")
    files = history_files([str(monthly_history / "ds=2025-0[1-2]"), march,
                           str(monthly_history / "*" / "part.csv")])
    assert [Path(f).parent.name for f in files[:3]] == ["ds=2025-01", "ds=2025-02",
                                                        "ds=2025-03"]
    assert len(files) == 12
    with pytest.raises(SuiteError, match=r"nothing\*\.csv: names no CSV or Parquet file"):
        history_files([str(monthly_history / "nothing*.csv")])


def test_partitions_with_other_columns_are_refused(monthly_history):
    odd = monthly_history / "ds=2025-06" / "part.csv"
    pd.read_csv(odd).drop(columns="wind_speed").to_csv(odd, index=False)
    with pytest.raises(SuiteError, match=r"ds=2025-06/part.csv: columns .* differ from "):
        read_history([str(monthly_history)])
