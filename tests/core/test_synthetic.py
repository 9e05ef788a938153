"""Tests for the synthetic frame a config check fits the pipeline on."""

from __future__ import annotations

from airflow_mlops.core.synthetic import ROWS, suite_columns, synthetic_frame
from airflow_mlops.core.validation import Suite

SUITE = Suite(name="s", source="s.json", expectations=[
    {"type": "expect_table_columns_to_match_ordered_list",
     "kwargs": {"column_list": ["age", "plan", "score", "label"]}},
    {"type": "expect_column_values_to_be_between",
     "kwargs": {"column": "age", "min_value": 18, "max_value": 30}},
    {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "age"}},
    {"type": "expect_column_values_to_be_in_set",
     "kwargs": {"column": "plan", "value_set": ["basic", "pro"]}},
    {"type": "expect_column_values_to_be_in_set",
     "kwargs": {"column": "label", "value_set": ["yes", "no", "maybe"]}},
])


def test_columns_follow_the_suite_and_nulls_appear_only_where_allowed():
    frame, target = synthetic_frame(SUITE, ["age", "plan", "score"], "label", "classification")

    assert len(frame) == len(target) == ROWS
    assert frame["age"].between(18, 30).all() and not frame["age"].isna().any()
    assert set(frame["plan"].dropna()) == {"basic", "pro"} and frame["plan"].isna().any()
    assert frame["score"].isna().any() and frame["score"].dtype.kind == "f"
    assert set(target) == {"yes", "no", "maybe"}


def test_regression_targets_are_numbers_and_columns_come_from_the_ordered_list():
    _, target = synthetic_frame(SUITE, ["age"], "score", "regression")

    assert target.dtype.kind == "f"
    assert suite_columns(SUITE) == ["age", "plan", "score", "label"]
