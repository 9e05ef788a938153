"""A starter expectation suite profiled from reference data (``airflow-mlops suite init``).

GX 1.x has no profiler any more; this one writes the rules a reviewer would start from:
columns and their order, the row count of a batch, and per column its type family, a
not-null rule with a tolerance, its numeric range widened by a margin, for columns with few
distinct values the set of values and, for key columns unique in every reference batch,
uniqueness (a key is an integer or text column named like one: ``id``, ``customer_id``,
``customerId``, ``order_key``). The reference is one file or several partitions (one batch
each, e.g. ``ds=2026-01/part.csv``); every reference batch passes the suite it produces.
"""

from __future__ import annotations

import glob
import json
import math
import re
from collections.abc import Sequence
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
DATA_SUFFIXES = (".csv", ".parquet", ".pq")
NULL_TOLERANCE = 0.01


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


def null_slack(null_fraction: float, batch_rows: int, tolerance: float) -> float:
    """How much more than the reference's null share a batch may hold.

    Three standard errors of a batch's share, and at least three nulls in a batch of
    ``batch_rows`` rows and at least ``tolerance``: a column without nulls in the reference
    may miss a value now and then, a column with many nulls varies by chance.
    """
    spread = 3 * math.sqrt(null_fraction * (1 - null_fraction) / batch_rows)
    return max(tolerance, spread, 3 / batch_rows)


def _not_null(name: str, null_fraction: float, slack: float | None) -> dict | None:
    """The not-null rule: strict when ``slack`` is None, else ``mostly`` below the reference."""
    if slack is None:
        return _expectation("expect_column_values_to_not_be_null", column=name)
    if (mostly := _floor(1.0 - null_fraction - slack, integer=False)) > 0:
        return _expectation("expect_column_values_to_not_be_null", column=name, mostly=mostly)
    return None


def _column_rules(name: str, column: pd.Series, *, unique: bool, margin: float,
                  max_categories: int, null_slack_of: Any, notes: list[str]) -> list[dict]:
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    null_fraction = float(column.isna().mean())
    if null_fraction == 1.0:
        notes.append(f"column {name!r} is empty (all null) in the reference data: no rules")
        return []
    rules = []
    if types := _type_list(column):
        rules.append(_expectation("expect_column_values_to_be_in_type_list", column=name,
                                  type_list=types))
    if not_null := _not_null(name, null_fraction, null_slack_of(null_fraction)):
        rules.append(not_null)
    if unique and _is_key(name, column):
        rules.append(_expectation("expect_column_values_to_be_unique", column=name))
    if is_numeric_dtype(column) and not is_bool_dtype(column) and not _is_flag(column):
        if bounds := _range(column, margin):
            rules.append(_expectation("expect_column_values_to_be_between", column=name,
                                      **bounds))
    if (values := _value_set(column, max_categories)) is not None:
        rules.append(_expectation("expect_column_values_to_be_in_set", column=name,
                                  value_set=values))
    return rules


def row_range(batch_rows: Sequence[int], *, margin: float, rows_factor: float) -> tuple[int, int]:
    """The rows a batch may have: one reference batch's count within ``rows_factor``, or
    the smallest and largest of several batches' counts widened by ``margin``."""
    if len(batch_rows) == 1:
        (rows,) = batch_rows
        return max(1, math.floor(rows / rows_factor)), math.ceil(rows * rows_factor)
    low, high = min(batch_rows), max(batch_rows)
    return max(1, math.floor(low * (1 - margin))), math.ceil(high * (1 + margin))


def profile_suite(
    reference_data: pd.DataFrame | Sequence[pd.DataFrame],
    *,
    name: str,
    reference: str,
    margin: float = 0.1,
    max_categories: int = 20,
    rows_factor: float = 2.0,
    rows: tuple[int, int] | None = None,
    null_tolerance: float = NULL_TOLERANCE,
    strict_nulls: bool = False,
) -> dict:
    """A GX 1.x ExpectationSuite (as JSON data) that every reference batch passes.

    :param reference_data: one data set, or several batches (partitions) with the same
        columns; each is one batch the suite will see, their union is profiled.
    :param name: the suite's name.
    :param reference: how the suite's notes name the reference data.
    :param margin: numeric ranges are widened by this fraction of the observed spread; the
        smallest and largest of several batches' row counts by this fraction of themselves.
    :param max_categories: columns with at most this many distinct values get a value set.
    :param rows_factor: the row count of a single reference batch may be this many times
        smaller or larger.
    :param rows: the row range ``(min, max)`` of a batch, instead of deriving it.
    :param null_tolerance: the least share of nulls a batch may hold beyond the reference's
        (see :func:`null_slack`).
    :param strict_nulls: a column without nulls in the reference may have none.
    """
    import pandas as pd

    if margin < 0 or rows_factor < 1 or max_categories < 0 or not 0 <= null_tolerance < 1:
        raise SuiteError("margin and max_categories must be >= 0, rows_factor >= 1 and "
                         "null_tolerance in [0, 1)")
    batches = [reference_data] if isinstance(reference_data, pd.DataFrame) else list(reference_data)
    if not batches:
        raise SuiteError(f"{reference}: no reference data to profile")
    batch_rows = [len(batch.index) for batch in batches]
    low, high = rows or row_range(batch_rows, margin=margin, rows_factor=rows_factor)
    if not 1 <= low <= high:
        raise SuiteError(f"rows {low}:{high}: need 1 <= MIN <= MAX")
    frame = batches[0] if len(batches) == 1 else pd.concat(batches, ignore_index=True)

    def null_slack_of(null_fraction: float) -> float | None:
        if strict_nulls and null_fraction == 0.0:
            return None
        return null_slack(null_fraction, low, null_tolerance)

    notes: list[str] = []
    expectations = [
        _expectation("expect_table_columns_to_match_ordered_list",
                     column_list=[str(c) for c in frame.columns]),
        _expectation("expect_table_row_count_to_be_between", min_value=low, max_value=high),
    ]
    for column_name in frame.columns:
        unique = all(batch[column_name].dropna().is_unique for batch in batches)
        expectations += _column_rules(str(column_name), frame[column_name], unique=unique,
                                      margin=margin, max_categories=max_categories,
                                      null_slack_of=null_slack_of, notes=notes)
    meta = {"generated_by": "airflow-mlops suite init", "reference": reference,
            "reference_rows": len(frame.index), "notes": notes}
    if len(batches) > 1:
        meta["reference_batches"] = {"count": len(batches), "min_rows": min(batch_rows),
                                     "max_rows": max(batch_rows)}
    return jsonable({"name": name, "meta": meta, "expectations": expectations})


def history_files(sources: Sequence[str]) -> list[str]:
    """The data files that ``sources`` name, each once, in order.

    A source is a file or URI, a glob pattern (``history/*.csv``, ``history/**/part.csv``) or
    a local folder of partitions (searched recursively, e.g. ``ds=2026-01/part.csv``).
    Files named ``.*`` or ``_*`` (``_SUCCESS``, ``.part.crc``) are no data.

    :raises SuiteError: a pattern or folder names no CSV or Parquet file.
    """
    files: list[str] = []
    for source in sources:
        if any(char in source for char in "*?["):
            found = [f for m in sorted(glob.glob(source, recursive=True)) for f in _data_files(m)]
        elif Path(source).is_dir():
            found = _data_files(source)
        else:
            found = [source]
        if not found:
            raise SuiteError(f"{source}: names no CSV or Parquet file")
        files += [f for f in found if f not in files]
    return files


def _data_files(location: str) -> list[str]:
    """A file as itself if it holds data, a folder as the data files under it."""
    path = Path(location)
    candidates = sorted(path.rglob("*")) if path.is_dir() else [path]
    return [str(p) for p in candidates
            if p.is_file() and p.suffix.lower() in DATA_SUFFIXES and p.name[0] not in "._"]


def read_history(sources: Sequence[str]) -> list[tuple[str, pd.DataFrame]]:
    """Every reference batch that ``sources`` name (see :func:`history_files`), read.

    :raises SuiteError: a batch's columns differ from the first batch's.
    """
    from airflow_mlops.core.io import read_table

    batches = [(file, read_table(file)) for file in history_files(sources)]
    first_file, first = batches[0]
    for file, frame in batches[1:]:
        if list(frame.columns) != list(first.columns):
            raise SuiteError(f"{file}: columns {list(frame.columns)} differ from "
                             f"{first_file}'s {list(first.columns)}")
    return batches


def parse_rows(text: str) -> tuple[int, int]:
    """``MIN:MAX`` as two row counts."""
    low, sep, high = text.partition(":")
    try:
        if not sep:
            raise ValueError
        return int(low), int(high)
    except ValueError:
        raise SuiteError(f"--rows {text!r}: expected MIN:MAX, e.g. 25:35") from None


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
