"""read_table's Parquet reader: the frame pd.read_parquet gives, decoded column by column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airflow_mlops.core.errors import DataError
from airflow_mlops.core.io import read_table

ROWS = 6
MIXED = pd.DataFrame({
    "id": np.arange(ROWS),
    "score": np.linspace(0.0, 1.0, ROWS),
    "region": ["north", "south"] * 3,
    "missing": [None, "x"] * 3,
    "kind": pd.Categorical(["a", "b", "a"] * 2),
    "count": pd.array([1, None] * 3, dtype="Int64"),
    "flag": [True, False] * 3,
    "seen": pd.date_range("2026-11-01", periods=ROWS, tz="UTC"),
})


@pytest.mark.parametrize("frame", [
    MIXED,
    MIXED.set_index("id"),
    MIXED.set_index(["region", "id"]),
    MIXED.set_axis(pd.RangeIndex(10, 10 + 2 * ROWS, 2)),
    MIXED.set_axis(pd.Index(np.arange(ROWS) * 3)),
    pd.DataFrame(np.ones((ROWS, 2)), columns=[0, 1]),
    pd.DataFrame(np.ones((ROWS, 2)), columns=pd.MultiIndex.from_tuples([("a", "x"), ("a", "y")])),
], ids=["columns", "named index", "two-level index", "range with a step", "stored index",
        "integer labels", "two-level labels"])
@pytest.mark.parametrize("index", [None, True, False])
def test_parquet_is_read_as_pandas_reads_it(tmp_path, frame, index):
    path = tmp_path / "day.parquet"
    frame.to_parquet(path, index=index)
    pd.testing.assert_frame_equal(read_table(path), pd.read_parquet(path), check_index_type=True)


def test_parquet_with_an_index_and_no_columns(tmp_path):
    path = tmp_path / "day.parquet"
    pd.DataFrame(index=pd.Index([3, 6, 9], name="id")).to_parquet(path)
    frame = read_table(path)
    pd.testing.assert_frame_equal(frame, pd.read_parquet(path))
    assert frame.shape == (3, 0)


def test_parquet_without_pandas_metadata(tmp_path):
    path = tmp_path / "day.parquet"
    pq.write_table(pa.table({"order_id": [3, 1, 2], "region": ["x", None, "y"]}), path)
    pd.testing.assert_frame_equal(read_table(path), pd.read_parquet(path))


def test_parquet_header_only_is_refused_by_name(tmp_path):
    path = tmp_path / "day.parquet"
    MIXED.head(0).to_parquet(path)
    with pytest.raises(DataError, match=r"day\.parquet: data set has no rows \(columns: id, "):
        read_table(path)
