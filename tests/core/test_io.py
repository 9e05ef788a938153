"""Reading data sets from paths and URIs, unusable files, and quarantine copies."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest

from airflow_mlops.core.errors import DataError
from airflow_mlops.core.io import as_path, fingerprint, read_table, require_rows
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
