"""A small frame shaped like a model's data, derived from its config and suite.

Each column takes its values from the suite: ``expect_column_values_to_be_in_set`` gives its
values, ``expect_column_values_to_be_between`` its range, a type expectation its kind; a
column the suite does not require to be non-null gets some missing values. Other columns are
numbers. Enough to prove the configured pipeline fits, not to score it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from airflow_mlops.core.validation import Suite

ROWS = 40
NULL_EVERY = 7  # every 7th row of a nullable column is missing
STRING_TYPES = ("str", "string", "object", "category")
INT_TYPES = ("int", "int64", "int32", "integer", "Int64")


def _rules(suite: Suite) -> dict[str, dict[str, Any]]:
    """Per column: its value set, range, type and whether it must be non-null."""
    rules: dict[str, dict[str, Any]] = {}
    for expectation in suite.expectations:
        kwargs = expectation.get("kwargs", {})
        column = kwargs.get("column")
        if not isinstance(column, str):
            continue
        rule = rules.setdefault(column, {})
        kind = expectation["type"]
        if kind == "expect_column_values_to_be_in_set" and kwargs.get("value_set"):
            rule["values"] = list(kwargs["value_set"])
        elif kind == "expect_column_values_to_be_between":
            rule["range"] = (kwargs.get("min_value"), kwargs.get("max_value"))
        elif kind == "expect_column_values_to_be_of_type":
            rule["type"] = str(kwargs.get("type_", ""))
        elif kind == "expect_column_values_to_not_be_null" and kwargs.get("mostly", 1) >= 1:
            rule["not_null"] = True
    return rules


def _values(rule: dict[str, Any], rows: int, rng) -> list:
    if "values" in rule:
        choices = rule["values"]
        return [choices[i % len(choices)] for i in rng.permutation(rows)]
    if rule.get("type", "").lower() in STRING_TYPES:
        return [f"value_{i % 3}" for i in range(rows)]
    low, high = rule.get("range", (None, None))
    low = 0.0 if low is None else float(low)
    high = low + 100.0 if high is None else float(high)
    numbers = rng.uniform(low, high, rows)
    if rule.get("type") in INT_TYPES:
        return [int(round(n)) for n in numbers]
    return list(numbers)


def _target(rule: dict[str, Any], task: str, rows: int, rng) -> list:
    if task == "classification":
        classes = rule.get("values") or [0, 1]
        return [classes[i % len(classes)] for i in range(rows)]
    return _values(rule, rows, rng)


def synthetic_frame(suite: Suite, features: list[str], target: str, task: str,
                    rows: int = ROWS, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """Features and target of ``rows`` seeded rows within the suite's rules."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    rules = _rules(suite)
    columns = {}
    for column in features:
        rule = rules.get(column, {})
        values = _values(rule, rows, rng)
        if not rule.get("not_null"):
            values = [None if i % NULL_EVERY == 1 else v for i, v in enumerate(values)]
        columns[column] = values
    frame = pd.DataFrame(columns).infer_objects()
    return frame, pd.Series(_target(rules.get(target, {}), task, rows, rng), name=target)


def suite_columns(suite: Suite) -> list[str]:
    """The columns a suite names, in order: the ordered column list when it has one."""
    for expectation in suite.expectations:
        if expectation["type"] == "expect_table_columns_to_match_ordered_list":
            return list(expectation["kwargs"].get("column_list", []))
    return list(dict.fromkeys(_rules(suite)))
