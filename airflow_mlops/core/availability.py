"""Does a URI hold data yet: exists, is big enough, has enough rows. Airflow-free."""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fsspec.core import url_to_fs

from airflow_mlops.core.errors import DataError

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem


@dataclass(frozen=True)
class Availability:
    """Whether a data file is ready to be read, and why (not)."""

    ready: bool
    reason: str


def _csv_rows(fs: AbstractFileSystem, path: str, enough: int) -> int:
    """Non-blank lines after the header, streamed; stops counting at ``enough``."""
    rows = -1
    with fs.open(path, "rb") as stream:
        for line in stream:
            if line.strip():
                rows += 1
                if rows >= enough:
                    break
    return max(rows, 0)


def _parquet_rows(fs: AbstractFileSystem, path: str, enough: int) -> int:
    """The row count stored in the Parquet footer; reads no data pages."""
    import pyarrow.parquet as pq

    with fs.open(path, "rb") as stream:
        return pq.ParquetFile(stream).metadata.num_rows


ROW_COUNTERS: dict[str, Callable[[AbstractFileSystem, str, int], int]] = {
    ".csv": _csv_rows,
    ".parquet": _parquet_rows,
    ".pq": _parquet_rows,
}


def check_data(
    fs: AbstractFileSystem, path: str, *, min_bytes: int = 1, min_rows: int | None = None
) -> Availability:
    """
    Check that ``path`` on ``fs`` is a file of at least ``min_bytes`` bytes and ``min_rows`` rows.

    CSV rows are the non-blank lines after the header (a quoted field spanning lines counts once
    per line); Parquet rows come from the file footer. A Parquet file without a readable footer
    yet (still being written) is not ready.

    :param fs: fsspec filesystem holding the file.
    :param path: path of the file on ``fs``.
    :param min_bytes: smallest size that counts as data; 1 rejects 0-byte files.
    :param min_rows: fewest data rows that count as data; ``None`` skips counting.
    :raises DataError: the path is a directory, or rows cannot be counted for its file type.
    """
    uri = fs.unstrip_protocol(path)
    suffix = posixpath.splitext(path)[1].lower()
    if min_rows is not None and suffix not in ROW_COUNTERS:
        raise DataError(
            f"{uri}: cannot count rows of a '{suffix}' file; min_rows needs one of "
            f"{sorted(ROW_COUNTERS)}"
        )
    try:
        info = fs.info(path)
    except FileNotFoundError:
        return Availability(False, "not there yet")
    if info["type"] == "directory":
        raise DataError(f"{uri}: is a directory; expected a CSV or Parquet file")
    size = info["size"]
    if size < min_bytes:
        return Availability(False, f"{size} bytes, need at least {min_bytes}")
    if min_rows is None:
        return Availability(True, f"{size} bytes")
    try:
        rows = ROW_COUNTERS[suffix](fs, path, min_rows)
    except ValueError as exc:  # pyarrow.ArrowInvalid: no valid footer (yet)
        return Availability(False, f"not readable as {suffix[1:]} yet: {exc}")
    if rows < min_rows:
        return Availability(False, f"{rows} data rows, need at least {min_rows}")
    return Availability(True, f"{size} bytes, at least {min_rows} data rows")


def check_uri(uri: str, *, min_bytes: int = 1, min_rows: int | None = None) -> Availability:
    """:func:`check_data` for a local path or any fsspec URI (credentials from the environment)."""
    fs, path = url_to_fs(uri)
    return check_data(fs, path, min_bytes=min_bytes, min_rows=min_rows)
