"""Quarantine copies land inside their folder, whatever the data set or task is called."""

from __future__ import annotations

import pandas as pd
import pytest
from upath import UPath

from airflow_mlops.core.errors import PathEscapeError
from airflow_mlops.core.quarantine import quarantine_file, quarantine_frame


def files_under(folder) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "data" / "ds=2026-01-02" / "customers.csv"
    path.parent.mkdir(parents=True)
    path.write_text("customer_id,tenure_months\n1,999\n")
    return path


def test_a_file_is_copied_under_its_own_name_and_stays_put(source, tmp_path):
    copy = quarantine_file(source, tmp_path / "quarantine" / "2026-01-02")

    assert copy == str(tmp_path / "quarantine" / "2026-01-02" / "customers.csv")
    assert (tmp_path / "quarantine" / "2026-01-02" / "customers.csv").read_text() == \
        source.read_text()
    assert source.exists()


def test_a_frame_is_written_as_parquet_under_its_name(tmp_path):
    frame = pd.DataFrame({"customer_id": [1, 2]})

    copy = quarantine_frame(frame, f"file://{tmp_path / 'q'}", "validate.parquet")

    assert copy == str(tmp_path / "q" / "validate.parquet")
    assert pd.read_parquet(tmp_path / "q" / "validate.parquet").equals(frame)


@pytest.mark.parametrize("name", ["../../etc/cron.d/evil.parquet", "/etc/evil.parquet",
                                  "%2e%2e/evil.parquet", "sub/../../evil.parquet"])
def test_a_frame_name_that_leaves_the_folder_is_refused_and_nothing_written(tmp_path, name):
    folder = tmp_path / "jail" / "q"

    with pytest.raises(PathEscapeError, match=rf"quarantine copy .* would leave {folder}"):
        quarantine_frame(pd.DataFrame({"a": [1]}), folder, name)

    assert files_under(tmp_path) == []


def test_a_source_whose_name_is_a_traversal_is_refused(tmp_path):
    source = UPath("memory://lake/customers/%2e%2e")
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_bytes(b"x")
    folder = UPath("memory://lake/quarantine/2026-01-02")

    with pytest.raises(PathEscapeError, match=r"quarantine copy '%2e%2e' would leave "
                       r"memory://lake/quarantine/2026-01-02: segment '%2e%2e' hides '\.\.'"):
        quarantine_file(source, folder)

    assert not UPath("memory://lake/quarantine").exists()
    assert source.read_bytes() == b"x"


def test_a_link_planted_in_the_folder_is_not_written_through(source, tmp_path):
    folder, victim = tmp_path / "quarantine", tmp_path / "victim.txt"
    folder.mkdir()
    victim.write_text("precious")
    (folder / "customers.csv").symlink_to(victim)

    with pytest.raises(PathEscapeError, match=f"a symbolic link leads to {victim}"):
        quarantine_file(source, folder)

    assert victim.read_text() == "precious"
