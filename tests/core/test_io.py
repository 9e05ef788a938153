"""Reading data sets from paths and URIs, unusable files, and quarantine copies."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from airflow_mlops.core.errors import DataError
from airflow_mlops.core.io import (
    as_path,
    file_digest,
    file_version,
    fingerprint,
    read_sample,
    read_table,
    require_rows,
    sample_positions,
)
from airflow_mlops.core.quarantine import quarantine_file, quarantine_frame


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def small() -> pd.DataFrame:
    return pd.DataFrame({"id": [1, 2, 3], "city": ["a", "b", "c"]})


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".pq"])
def test_reads_csv_and_parquet(tmp_path, small, suffix):
    path = tmp_path / f"data{suffix}"
    small.to_csv(path, index=False) if suffix == ".csv" else small.to_parquet(path)
    pd.testing.assert_frame_equal(read_table(str(path)), small)


def test_reads_file_uris_path_objects_and_fsspec_uris(tmp_path, small):
    from upath import UPath

    path = tmp_path / "data.csv"
    small.to_csv(path, index=False)
    assert read_table(f"file://{path}").equals(small)
    assert read_table(path).equals(small)
    remote = UPath("memory://bucket/data.parquet")
    with remote.open("wb") as handle:
        small.to_parquet(handle)
    assert read_table("memory://bucket/data.parquet").equals(small)
    assert read_table(remote).equals(small)


def test_as_path_maps_locations_to_path_objects(tmp_path):
    assert as_path(str(tmp_path)) == tmp_path
    assert as_path(f"file://{tmp_path}") == tmp_path
    assert str(as_path("memory://bucket/x.csv")) == "memory://bucket/x.csv"
    assert as_path(tmp_path) is tmp_path


def test_errors_use_the_given_name(tmp_path):
    with pytest.raises(DataError, match=r"^s3://bucket/day=1/data\.csv: data set not found"):
        read_table(tmp_path / "missing.csv", name="s3://bucket/day=1/data.csv")


def write(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


BAD_FILES = {
    "0-byte file": ("empty.csv", b"", r"file is empty \(0 bytes\)"),
    "header-only CSV": ("header.csv", b"id,city\n",
                        r"data set has no rows \(columns: id, city\)"),
    "blank CSV": ("blank.csv", b"\n\n", r"file has no header and no rows"),
    "corrupt Parquet": ("broken.parquet", b"PAR1 this is not parquet at all PAR1",
                        r"cannot be read as PARQUET: "),
    "text in a Parquet file": ("text.parquet", b"id,city\n1,a\n", r"cannot be read as PARQUET"),
    "binary in a CSV file": ("binary.csv", bytes(range(256)) * 4, r"cannot be read as CSV"),
    "unsupported type": ("data.xlsx", b"whatever", r"unsupported file type '\.xlsx'"),
}


@pytest.mark.parametrize("case", BAD_FILES, ids=list(BAD_FILES))
def test_unusable_files_give_one_clear_error_and_stay_unchanged(tmp_path, case):
    name, content, message = BAD_FILES[case]
    path = write(tmp_path / name, content)
    before = digest(path)
    with pytest.raises(DataError, match=message) as error:
        read_table(str(path))
    assert str(error.value).startswith(f"{path}: ")
    assert "Traceback" not in str(error.value)
    assert error.value.__cause__ is None
    assert digest(path) == before


def test_a_missing_file_names_the_file(tmp_path):
    path = tmp_path / "nope" / "data.csv"
    with pytest.raises(DataError, match=rf"^{path}: data set not found$"):
        read_table(str(path))
    assert not path.parent.exists()


def test_require_rows_rejects_an_empty_query_result():
    with pytest.raises(DataError, match=r"^query: data set has no rows \(columns: a, b\)"):
        require_rows(pd.DataFrame(columns=["a", "b"]), "query")


def test_fingerprint_depends_on_content_only(small):
    assert fingerprint(small) == fingerprint(small.copy())
    assert fingerprint(small) != fingerprint(small.assign(id=[1, 2, 4]))
    assert len(fingerprint(small)) == 16


def test_quarantine_copies_the_file_and_never_touches_the_original(tmp_path, small):
    source = tmp_path / "in" / "day.csv"
    source.parent.mkdir()
    small.to_csv(source, index=False)
    before = digest(source)
    copy = quarantine_file(str(source), str(tmp_path / "quarantine" / "2026-01-02"))
    assert copy == str(tmp_path / "quarantine" / "2026-01-02" / "day.csv")
    assert digest(Path(copy)) == before
    assert digest(source) == before
    source.write_text("id,city\n9,z\n")  # a re-run replaces the earlier copy
    assert Path(quarantine_file(source, tmp_path / "quarantine" / "2026-01-02")).read_text() \
        == "id,city\n9,z\n"


def test_quarantine_to_object_storage(tmp_path, small):
    source = tmp_path / "day.csv"
    small.to_csv(source, index=False)
    copy = quarantine_file(source, "memory://quarantine/run-1")
    assert copy == "memory://quarantine/run-1/day.csv"
    assert read_table(copy).equals(small)


def test_quarantine_refuses_the_data_sets_own_folder(tmp_path, small):
    source = tmp_path / "day.csv"
    small.to_csv(source, index=False)
    before = digest(source)
    with pytest.raises(DataError, match="is the data set's own folder"):
        quarantine_file(source, tmp_path)
    assert digest(source) == before


def test_quarantine_of_a_query_result_writes_parquet(tmp_path, small):
    copy = quarantine_frame(small, tmp_path / "q", "validate.parquet")
    assert pd.read_parquet(copy).equals(small)


def test_quarantine_into_an_unwritable_place_is_a_data_error(tmp_path, small):
    source = tmp_path / "day.csv"
    small.to_csv(source, index=False)
    blocker = write(tmp_path / "file", b"x")
    with pytest.raises(DataError, match="quarantine folder cannot be created"):
        quarantine_file(source, blocker / "sub")


def mixed(rows: int) -> pd.DataFrame:
    """Floats, strings with gaps, integers and timestamps."""
    rng = np.random.default_rng(5)
    return pd.DataFrame({
        "x": rng.normal(size=rows),
        "plan": rng.choice(np.array(["a", "b", None], dtype=object), rows),
        "n": rng.integers(0, 9, rows),
        "at": pd.date_range("2026-01-01", periods=rows, freq="min", tz="UTC"),
    })


def write_mixed(path: Path, rows: int, row_group_size: int) -> None:
    """:func:`mixed` rows written as CSV or Parquet (by the suffix)."""
    frame = mixed(rows)
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, row_group_size=row_group_size)


def test_sample_positions_are_seeded_sorted_and_distinct():
    first = sample_positions(10_000, 500, 7)

    assert np.array_equal(first, sample_positions(10_000, 500, 7))
    assert not np.array_equal(first, sample_positions(10_000, 500, 8))
    assert len(np.unique(first)) == 500 and np.all(np.diff(first) > 0)
    assert sample_positions(500, 500, 7) is None
    assert sample_positions(500, None, 7) is None


@pytest.mark.parametrize("size", [100, 2999, 3000, None])
@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_read_sample_keeps_the_rows_a_full_read_would_sample(tmp_path, suffix, size):
    path = tmp_path / f"data{suffix}"
    write_mixed(path, 3000, row_group_size=700)  # draws cross row-group boundaries
    before = digest(path)

    sampled = read_sample(str(path), size=size, seed=11)

    full = read_table(path)
    positions = sample_positions(len(full), size, 11)
    expected = full if positions is None else full.iloc[positions].reset_index(drop=True)
    pd.testing.assert_frame_equal(sampled.frame, expected)
    assert sampled.rows == 3000
    assert len(sampled.frame) == min(size or 3000, 3000)
    assert digest(path) == before


@pytest.mark.parametrize("size", [100, None])
@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_read_sample_reads_only_the_asked_columns_and_names_all(tmp_path, suffix, size):
    path = tmp_path / f"data{suffix}"
    write_mixed(path, 3000, row_group_size=700)

    sampled = read_sample(path, size=size, seed=11, columns=["n", "absent", "x"])

    whole = read_sample(path, size=size, seed=11)
    pd.testing.assert_frame_equal(sampled.frame, whole.frame[["x", "n"]])
    assert sampled.columns == whole.columns == ["x", "plan", "n", "at"]
    assert sampled.rows == 3000


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_read_sample_reads_all_columns_when_it_has_none_of_the_asked(tmp_path, suffix):
    path = tmp_path / f"data{suffix}"
    write_mixed(path, 300, row_group_size=70)

    sampled = read_sample(path, size=100, seed=1, columns=["absent"])

    assert list(sampled.frame.columns) == ["x", "plan", "n", "at"]
    assert (len(sampled.frame), sampled.rows) == (100, 300)


def test_read_sample_reads_object_storage():
    from upath import UPath

    remote = UPath("memory://bucket/sample.parquet")
    with remote.open("wb") as handle:
        mixed(2000).to_parquet(handle, row_group_size=300)

    sampled = read_sample("memory://bucket/sample.parquet", size=50, seed=1)

    assert (len(sampled.frame), sampled.rows) == (50, 2000)
    pd.testing.assert_frame_equal(
        sampled.frame, mixed(2000).iloc[sample_positions(2000, 50, 1)].reset_index(drop=True))


@pytest.mark.parametrize("case", BAD_FILES, ids=list(BAD_FILES))
def test_read_sample_rejects_unusable_files_like_read_table(tmp_path, case):
    name, content, message = BAD_FILES[case]
    path = write(tmp_path / name, content)
    before = digest(path)

    with pytest.raises(DataError, match=message) as error:
        read_sample(path, size=10, seed=0, name=f"s3://lake/{name}")

    assert str(error.value).startswith(f"s3://lake/{name}: ")
    assert error.value.__cause__ is None
    assert digest(path) == before


def test_read_sample_of_missing_empty_and_rowless_parquet_files(tmp_path):
    path = tmp_path / "empty.parquet"
    mixed(0).to_parquet(path)

    with pytest.raises(DataError, match=r"empty.parquet: data set has no rows \(columns: x, plan"):
        read_sample(path, size=10, seed=0)
    with pytest.raises(DataError, match=r"missing.parquet: data set not found"):
        read_sample(tmp_path / "missing.parquet", size=10, seed=0)
    with pytest.raises(DataError, match=r"zero.parquet: file is empty \(0 bytes\)"):
        read_sample(write(tmp_path / "zero.parquet", b""), size=10, seed=0)


def test_file_version_changes_when_the_file_is_rewritten(tmp_path, small):
    import os

    path = tmp_path / "data.csv"
    small.to_csv(path, index=False)
    os.utime(path, (1_700_000_000, 1_700_000_000))
    first = file_version(path)

    assert first == (path.stat().st_size, 1_700_000_000_000_000_000)
    assert str(first) == f"{path.stat().st_size}:1700000000000000000"
    assert file_version(str(path)) == first
    small.to_csv(path, index=False)  # same bytes, written again
    assert file_version(path) != first
    assert file_version(tmp_path / "gone.csv") is None


def test_a_store_without_modification_times_gives_no_file_version():
    from upath import UPath

    path = UPath("memory://airflow-mlops-tests/no-mtime.csv")
    path.write_bytes(b"a,b\n1,2\n")

    assert path.stat().st_size == 8
    assert file_version(path) is None


def test_file_digest_follows_the_bytes(tmp_path, small):
    path = tmp_path / "data.csv"
    small.to_csv(path, index=False)
    first = file_digest(path)

    assert file_digest(str(path)) == first and len(first) == 16
    small.to_csv(path, index=False, lineterminator="\r\n")  # same rows, other bytes
    assert file_digest(path) != first
    small.to_csv(path, index=False)
    assert file_digest(path) == first
    with pytest.raises(DataError, match=r"^lake/gone.csv: data set not found$"):
        file_digest(tmp_path / "gone.csv", name="lake/gone.csv")
