"""Streamed landing of SQL rows as Parquet or CSV, whole or as a seeded sample."""

from __future__ import annotations

import sqlite3

import pandas as pd
import pyarrow.parquet as pq
import pytest

from airflow_mlops.core.sql_extract import land_rows
from airflow_mlops.core.sql_sources import SqlSource, SqlSourceError


@pytest.fixture
def lite(tmp_path, customers) -> SqlSource:
    path = tmp_path / "warehouse.db"
    with sqlite3.connect(path) as connection:
        customers.head(700).to_sql("customers", connection, index=False)
    return SqlSource.on_url(f"sqlite:///{path}", table="customers")


def test_rows_land_as_parquet_one_chunk_at_a_time(lite, customers, tmp_path):
    target = tmp_path / "ds=2026-03-01" / "part.parquet"
    assert land_rows(lite, target, chunk_rows=100) == {"rows": 700}
    assert pq.ParquetFile(target).metadata.num_row_groups == 7  # one per streamed chunk
    pd.testing.assert_frame_equal(pd.read_parquet(target), customers.head(700),
                                  check_dtype=False)
    assert [p.name for p in target.parent.iterdir()] == ["part.parquet"]


def test_rows_land_as_csv_with_one_header(lite, customers, tmp_path):
    target = tmp_path / "part.csv"
    land_rows(lite, target, chunk_rows=300)
    pd.testing.assert_frame_equal(pd.read_csv(target), customers.head(700))


def test_max_rows_lands_a_seeded_sample_drawn_in_the_database(lite, tmp_path):
    first, again = tmp_path / "a.parquet", tmp_path / "b.parquet"
    out = land_rows(lite, first, max_rows=50, seed=7, key_column="customer_id")
    land_rows(lite, again, max_rows=50, seed=7, key_column="customer_id")
    assert out == {"rows": 50, "source_rows": 700}
    assert pd.read_parquet(first).equals(pd.read_parquet(again))


def test_no_rows_writes_nothing(lite, tmp_path):
    empty = SqlSource.on_url(lite.url, table="customers", where="1 = 0")
    with pytest.raises(SqlSourceError, match="WHERE 1 = 0 on sqlite:.*: data set has no rows"):
        land_rows(empty, tmp_path / "part.parquet")
    assert list(tmp_path.glob("*.parquet")) == [] and list(tmp_path.glob(".*")) == []


def test_a_column_null_in_the_first_chunk_asks_for_a_cast(lite, tmp_path):
    source = SqlSource.on_url(lite.url, query="SELECT customer_id, CASE WHEN customer_id > "
                              "(SELECT MIN(customer_id) FROM customers) THEN 1 END AS late "
                              "FROM customers ORDER BY customer_id")
    with pytest.raises(SqlSourceError, match="column\\(s\\) 'late' are null in the first rows"):
        land_rows(source, tmp_path / "part.parquet", chunk_rows=1)
    assert land_rows(source, tmp_path / "whole.parquet", chunk_rows=700)["rows"] == 700
