from __future__ import annotations

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airflow_mlops.core.availability import check_data, check_uri
from airflow_mlops.core.errors import DataError


def test_missing_file_is_not_ready(tmp_path):
    result = check_uri(str(tmp_path / "day.csv"))
    assert not result.ready
    assert result.reason == "not there yet"


def test_empty_file_is_not_ready(tmp_path):
    (tmp_path / "day.csv").touch()
    result = check_uri(str(tmp_path / "day.csv"))
    assert not result.ready
    assert result.reason == "0 bytes, need at least 1"


def test_min_bytes(tmp_path):
    (tmp_path / "day.csv").write_text("a,b\n1,2\n")
    assert check_uri(str(tmp_path / "day.csv"), min_bytes=8).ready
    assert not check_uri(str(tmp_path / "day.csv"), min_bytes=9).ready


def test_header_only_csv_needs_rows(tmp_path):
    (tmp_path / "day.csv").write_text("a,b\n\n")
    assert check_uri(str(tmp_path / "day.csv")).ready
    result = check_uri(str(tmp_path / "day.csv"), min_rows=1)
    assert not result.ready
    assert result.reason == "0 data rows, need at least 1"


def test_csv_rows_count_non_blank_lines_after_header(tmp_path):
    (tmp_path / "day.csv").write_text("a,b\n1,2\n\n3,4\n5,6")
    assert check_uri(f"file://{tmp_path / 'day.csv'}", min_rows=3).ready
    result = check_uri(str(tmp_path / "day.csv"), min_rows=4)
    assert (result.ready, result.reason) == (False, "3 data rows, need at least 4")


def test_parquet_rows_come_from_the_footer(tmp_path):
    pq.write_table(pa.table({"a": [1, 2, 3]}), tmp_path / "day.parquet")
    assert check_uri(str(tmp_path / "day.parquet"), min_rows=3).ready
    result = check_uri(str(tmp_path / "day.parquet"), min_rows=4)
    assert (result.ready, result.reason) == (False, "3 data rows, need at least 4")


def test_parquet_without_footer_is_not_ready(tmp_path):
    pq.write_table(pa.table({"a": [1, 2, 3]}), tmp_path / "full.parquet")
    (tmp_path / "day.parquet").write_bytes((tmp_path / "full.parquet").read_bytes()[:20])
    result = check_uri(str(tmp_path / "day.parquet"), min_rows=1)
    assert not result.ready
    assert result.reason.startswith("not readable as parquet yet")


def test_min_rows_for_unsupported_type_names_the_file(tmp_path):
    with pytest.raises(DataError, match=r"day\.json: cannot count rows of a '\.json' file"):
        check_uri(str(tmp_path / "day.json"), min_rows=1)


def test_directory_is_an_error(tmp_path):
    with pytest.raises(DataError, match="is a directory"):
        check_uri(str(tmp_path))


def test_object_storage_through_fsspec():
    fs = fsspec.filesystem("memory")
    fs.pipe("/bucket/day=2026-11-01/data.csv", b"a\n1\n2\n")
    assert check_uri("memory://bucket/day=2026-11-01/data.csv", min_rows=2).ready
    assert not check_data(fs, "/bucket/day=2026-11-02/data.csv").ready
