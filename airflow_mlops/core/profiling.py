"""A starter expectation suite profiled from a reference data set (``airflow-mlops suite init``).

GX 1.x has no profiler any more; this one writes the rules a reviewer would start from:
columns and their order, the row count within a factor, and per column its type family, its
null fraction, its numeric range widened by a margin, for columns with few distinct values
the set of values and, for key columns unique in the reference data, uniqueness (a key is an
integer or text column named like one: ``id``, ``customer_id``, ``customerId``, ``order_key``).
The reference data passes the suite it produces.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_mlops.core.errors import SuiteError
from airflow_mlops.core.validation import jsonable

if TYPE_CHECKING:
    import pandas as pd

NUMERIC_TYPES = [
    "int", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32", "UInt64",
    "float", "float16", "float32", "float64", "Float32", "Float64",
]
BOOLEAN_TYPES = ["bool", "boolean"]
STRING_TYPES = ["str"]
DECIMALS = 4
# A key's name: "id", "key" or "uuid", alone or as the last word: "customer_id", "order-key",
# "customerId", "userID", "account_uuid"; not "paid" or "valid".
KEY_NAME = re.compile(r"(?i:(?:^|[_\-\s.])(?:id|key|uuid))$|[a-z0-9](?:Id|ID|Key|Uuid|UUID)$")


def _expectation(kind: str, **kwargs: Any) -> dict:
    return {"type": kind, "kwargs": kwargs}


def _floor(value: float, integer: bool) -> float:
    scale = 1 if integer else 10**DECIMALS
    bound = math.floor(value * scale) / scale
    return int(bound) if integer else bound


def _ceil(value: float, integer: bool) -> float:
    scale = 1 if integer else 10**DECIMALS
    bound = math.ceil(value * scale) / scale
    return int(bound) if integer else bound


def _type_list(column: pd.Series) -> list[str] | None:
    from pandas.api.types import (
        is_bool_dtype,
        is_datetime64_any_dtype,
        is_numeric_dtype,
        is_object_dtype,
    )

    if is_bool_dtype(column):
        return BOOLEAN_TYPES
    if is_numeric_dtype(column):
        return NUMERIC_TYPES
    if is_datetime64_any_dtype(column):
        return [str(column.dtype)]
    values = column.dropna()
    if is_object_dtype(column) and not values.empty and values.map(type).eq(str).all():
        return STRING_TYPES
    return None


def _range(column: pd.Series, margin: float) -> dict | None:
    """Bounds around the observed finite values; an infinite side stays open."""
    import numpy as np
    from pandas.api.types import is_integer_dtype

    values = column.dropna().astype(float)
    finite = values[np.isfinite(values)]
    if finite.empty:
        return None
    low, high = float(finite.min()), float(finite.max())
    spread = (high - low) or abs(high) or 1.0
    integer = is_integer_dtype(column)
    bounds = {}
    if not (values == -np.inf).any():
        widened = low - margin * spread
        bounds["min_value"] = _floor(max(widened, 0.0) if low >= 0 else widened, integer)
    if not (values == np.inf).any():
        bounds["max_value"] = _ceil(high + margin * spread, integer)
    return bounds or None


def _is_flag(column: pd.Series) -> bool:
    from pandas.api.types import is_integer_dtype

    return is_integer_dtype(column) and set(column.dropna().unique().tolist()) <= {0, 1}


def _is_key(name: str, column: pd.Series) -> bool:
    """Whether a column looks like a key: named like one, holding text or whole numbers.

    Whole floats count: pandas reads a CSV integer column with gaps as floats.
    """
    from pandas.api.types import is_float_dtype, is_integer_dtype, is_string_dtype

    if not KEY_NAME.search(name):
        return False
    if is_integer_dtype(column) or is_string_dtype(column):
        return True
    return is_float_dtype(column) and bool(column.dropna().mod(1).eq(0).all())


def _value_set(column: pd.Series, max_categories: int) -> list | None:
    """The few values of a 0/1 flag or of a text or categorical column."""
    from pandas.api.types import is_bool_dtype, is_datetime64_any_dtype, is_numeric_dtype

    values = column.dropna()
    distinct = values.unique().tolist()
    if _is_flag(column):
        return sorted(distinct)
    if is_bool_dtype(column) or is_numeric_dtype(column) or is_datetime64_any_dtype(column):
        return None
    small = len(distinct) <= max_categories and len(distinct) * 2 <= len(values)
    return sorted(distinct, key=str) if small else None


def _column_rules(name: str, column: pd.Series, margin: float, max_categories: int,
                  notes: list[str]) -> list[dict]:
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    null_fraction = float(column.isna().mean())
    if null_fraction == 1.0:
        notes.append(f"column {name!r} is empty (all null) in the reference data: no rules")
        return []
    rules = []
    if types := _type_list(column):
        rules.append(_expectation("expect_column_values_to_be_in_type_list", column=name,
                                  type_list=types))
    if null_fraction == 0.0:
        rules.append(_expectation("expect_column_values_to_not_be_null", column=name))
    elif (mostly := _floor(1.0 - null_fraction - margin, integer=False)) > 0:
        rules.append(_expectation("expect_column_values_to_not_be_null", column=name,
                                  mostly=mostly))
    if _is_key(name, column) and column.dropna().is_unique:
        rules.append(_expectation("expect_column_values_to_be_unique", column=name))
    if is_numeric_dtype(column) and not is_bool_dtype(column) and not _is_flag(column):
        if bounds := _range(column, margin):
            rules.append(_expectation("expect_column_values_to_be_between", column=name,
                                      **bounds))
    if (values := _value_set(column, max_categories)) is not None:
        rules.append(_expectation("expect_column_values_to_be_in_set", column=name,
                                  value_set=values))
    return rules


def profile_suite(
    frame: pd.DataFrame,
    *,
    name: str,
    reference: str,
    margin: float = 0.1,
    max_categories: int = 20,
    rows_factor: float = 2.0,
) -> dict:
    """A GX 1.x ExpectationSuite (as JSON data) that ``frame`` passes.

    :param name: the suite's name.
    :param reference: how the suite's notes name the reference data set.
    :param margin: numeric ranges are widened by this fraction of the observed spread, and
        the allowed null fraction by this much.
    :param max_categories: columns with at most this many distinct values get a value set.
    :param rows_factor: the row count may be this many times smaller or larger.
    """
    if margin < 0 or rows_factor < 1 or max_categories < 0:
        raise SuiteError("margin and max_categories must be >= 0 and rows_factor >= 1")
    rows = len(frame.index)
    notes: list[str] = []
    expectations = [
        _expectation("expect_table_columns_to_match_ordered_list",
                     column_list=[str(c) for c in frame.columns]),
        _expectation("expect_table_row_count_to_be_between",
                     min_value=max(1, math.floor(rows / rows_factor)),
                     max_value=math.ceil(rows * rows_factor)),
    ]
    for column_name in frame.columns:
        expectations += _column_rules(str(column_name), frame[column_name], margin,
                                      max_categories, notes)
    meta = {"generated_by": "airflow-mlops suite init", "reference": reference,
            "reference_rows": rows, "notes": notes}
    return jsonable({"name": name, "meta": meta, "expectations": expectations})


def write_suite(suite: dict, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write a suite as JSON, one expectation per line, refusing to replace a file unasked."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise SuiteError(f"{path}: already exists; pass --force to replace it")
    lines = ",\n".join(f"    {json.dumps(e)}" for e in suite["expectations"])
    head = {k: v for k, v in suite.items() if k != "expectations"}
    body = json.dumps(head, indent=2)[:-2]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'{body},\n  "expectations": [\n{lines}\n  ]\n}}\n')
    return path
