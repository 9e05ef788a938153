"""suite init: a starter suite the reference data passes and that catches the usual breakage."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from airflow_mlops.core.errors import SuiteError
from airflow_mlops.core.profiling import profile_suite, write_suite
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
    assert tenure["expect_column_values_to_not_be_null"] == {"column": "tenure_months"}
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
    assert rules(suite, "ratio")["expect_column_values_to_not_be_null"]["mostly"] == 0.7333
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
