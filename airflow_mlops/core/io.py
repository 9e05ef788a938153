"""Reading data sets from paths and URIs, and fingerprinting them.

Functions take a location as a string (a local path, ``file://...`` or any fsspec URI such
as ``s3://bucket/key.csv``) or as a path object with ``open``/``stat`` (``pathlib.Path``,
``upath.UPath`` or Airflow's ``ObjectStoragePath``, which brings connection credentials).
Input files are only ever opened for reading.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NamedTuple, Protocol
from urllib.parse import urlparse

from airflow_mlops.core.errors import DataError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

READERS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
MAX_MESSAGE = 300
DIGEST_CHUNK = 1 << 20


class StoragePath(Protocol):
    """What this package needs from a path: ``pathlib.Path``, ``UPath``, ``ObjectStoragePath``."""

    @property
    def name(self) -> str: ...

    @property
    def suffix(self) -> str: ...

    @property
    def parent(self) -> StoragePath: ...

    def __truediv__(self, other: str) -> StoragePath: ...

    def stat(self) -> Any: ...

    def mkdir(self, parents: bool = False, exist_ok: bool = False) -> None: ...

    def open(self, mode: str = "r", **kwargs: Any) -> IO: ...


def as_path(location: str | os.PathLike[str] | StoragePath) -> StoragePath:
    """A path object for ``location``: local paths and ``file://`` URIs become ``Path``."""
    if hasattr(location, "open"):
        return location
    text = os.fspath(location)
    if "://" not in text:
        return Path(text)
    if text.startswith("file://"):
        return Path(urlparse(text).path)
    from upath import UPath

    return UPath(text)


def short(exc: BaseException) -> str:
    """The first line of an exception's message, clipped: enough to act on, no traceback."""
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "..."


def data_format(path: StoragePath, label: str) -> str:
    """``csv`` or ``parquet``, from the file name's suffix."""
    kind = READERS.get(path.suffix.lower())
    if kind is None:
        raise DataError(
            f"{label}: unsupported file type {path.suffix or '(none)'!r}; "
            f"expected one of {', '.join(sorted(READERS))}"
        )
    return kind


def read_table(
    location: str | os.PathLike[str] | StoragePath, *, name: str | None = None
) -> pd.DataFrame:
    """Load a CSV or Parquet data set that has at least one row.

    :param location: where the data is.
    :param name: how errors refer to the data set; ``str(location)`` by default.
    :raises DataError: the file is missing, empty, header-only, unreadable or of another type.
    """
    label = name or str(location)
    path = as_path(location)
    kind = data_format(path, label)
    with _reading(path, label, kind) as handle:
        frame, _ = _read_csv(handle) if kind == "csv" else _read_parquet(handle)
    return require_rows(frame, label)


@contextmanager
def _reading(path: StoragePath, label: str, kind: str) -> Iterator[IO[bytes]]:
    """The data file open for reading; what goes wrong reading it is a :class:`DataError`."""
    import pandas as pd
    from pyarrow import ArrowException

    _require_file(path, label)
    try:
        with path.open("rb") as handle:
            yield handle
    except FileNotFoundError:
        raise DataError(f"{label}: data set not found") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{label}: file has no header and no rows") from None
    except (ValueError, OSError, pd.errors.ParserError, ArrowException) as exc:
        raise DataError(f"{label}: cannot be read as {kind.upper()}: {short(exc)}") from None


def _read_csv(
    handle: IO[bytes], columns: Collection[str] | None = None
) -> tuple[pd.DataFrame, list[str]]:
    """An open CSV file's ``columns`` (all by default), and the names of all its columns."""
    import pandas as pd

    if columns is None:
        frame = pd.read_csv(handle)
        return frame, list(frame.columns)
    names = list(pd.read_csv(handle, nrows=0).columns)
    handle.seek(0)
    return pd.read_csv(handle, usecols=_selected(names, columns)), names


def _selected(names: list[str], columns: Collection[str]) -> list[str]:
    """The data set's ``names`` among ``columns``; all of them when it has none of those
    (a frame without columns would lose the row count)."""
    return [n for n in names if n in columns] or names


def _read_parquet(
    handle: IO[bytes], columns: Collection[str] | None = None
) -> tuple[pd.DataFrame, list[str]]:
    """An open Parquet file as ``pd.read_parquet`` reads it, decoded one column at a time;
    only ``columns`` of it when given; and the names of all its columns.

    ``pd.read_parquet`` decodes the whole file into Arrow before converting it, so it peaks at
    about 2.7 times the frame it returns; column by column, at the frame plus one column.
    Each column stays its own block: joining them under copy-on-write copies nothing.
    """
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(handle)
    names = _parquet_columns(parquet)
    index = parquet.read(columns=[], use_pandas_metadata=True).to_pandas().index
    frames = []
    for name in names if columns is None else _selected(names, columns):
        frames.append(parquet.read(columns=[name]).to_pandas())
        pa.default_memory_pool().release_unused()
    if not frames:
        return pd.DataFrame(index=index), names
    with pd.option_context("mode.copy_on_write", True):
        frame = pd.concat(frames, axis=1)
    frame.index = index
    return frame, names


def _parquet_columns(parquet: pq.ParquetFile) -> list[str]:
    """The data columns of a Parquet file: not the index pandas stored in it."""
    metadata = parquet.schema_arrow.pandas_metadata or {}
    stored_index = {c for c in metadata.get("index_columns", []) if isinstance(c, str)}
    return [n for n in parquet.schema_arrow.names if n not in stored_index]


def require_rows(frame: pd.DataFrame, label: str) -> pd.DataFrame:
    """``frame`` itself, if it has rows; a data set with columns only is unusable."""
    if len(frame.index) == 0:
        columns = ", ".join(map(str, frame.columns)) or "none"
        raise DataError(f"{label}: data set has no rows (columns: {columns})")
    return frame


def fingerprint(frame: pd.DataFrame) -> str:
    """A content hash of a data frame: same rows, columns and values give the same value."""
    import pandas as pd

    digest = hashlib.sha256()
    digest.update(",".join(map(str, frame.columns)).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).values.tobytes())
    return digest.hexdigest()[:16]


class Sampled(NamedTuple):
    """The rows :func:`sample_positions` drew from a data set, how many rows it has, and all
    its columns (the frame may hold only some)."""

    frame: pd.DataFrame
    rows: int
    columns: list[str]


def sample_positions(rows: int, size: int | None, seed: int) -> np.ndarray | None:
    """Sorted positions of ``size`` of ``rows`` rows, drawn without replacement with ``seed``.

    None when all rows are kept (``size`` is None or not below ``rows``). The same rows, size
    and seed always give the same positions, whichever reader applies them.
    """
    import numpy as np

    if size is None or rows <= size:
        return None
    positions = np.random.default_rng(seed).choice(rows, size=size, replace=False)
    positions.sort()
    return positions


def read_sample(
    location: str | os.PathLike[str] | StoragePath, *, size: int | None, seed: int,
    name: str | None = None, columns: Collection[str] | None = None,
) -> Sampled:
    """A seeded sample of a CSV or Parquet data set: the rows :func:`sample_positions` picks.

    Parquet is sampled while it is read: row group by row group, only the drawn rows are kept,
    so memory holds one row group and the sample, and only the sample becomes pandas. CSV is
    read whole, then sampled. With ``columns``, only those of the data set's columns are read
    (all of them if it has none of those). A sampled frame has a fresh index; errors are
    :func:`read_table`'s.
    """
    label = name or str(location)
    path = as_path(location)
    kind = data_format(path, label)
    with _reading(path, label, kind) as handle:
        if kind == "parquet" and size is not None:
            table, rows, names = _parquet_sample(handle, size, seed, columns)
            return Sampled(require_rows(table.to_pandas(), label), rows, names)
        read = _read_csv if kind == "csv" else _read_parquet
        frame, names = read(handle, columns)
    require_rows(frame, label)
    positions = sample_positions(len(frame.index), size, seed)
    sampled = frame if positions is None else frame.iloc[positions].reset_index(drop=True)
    return Sampled(sampled, len(frame.index), names)


def _require_file(path: StoragePath, label: str) -> None:
    """Fail unless ``path`` exists and is not empty."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise DataError(f"{label}: data set not found") from None
    if size == 0:
        raise DataError(f"{label}: file is empty (0 bytes)")


def _parquet_sample(
    handle: IO[bytes], size: int, seed: int, columns: Collection[str] | None = None
) -> tuple[pa.Table, int, list[str]]:
    """The seeded sample of an open Parquet file's ``columns`` (all by default) as an Arrow
    table, the file's row count, and the names of all its columns."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(handle)
    rows = parquet.metadata.num_rows
    names = _parquet_columns(parquet)
    read = None if columns is None else _selected(names, columns)
    positions = sample_positions(rows, size, seed)
    if positions is None:
        return parquet.read(columns=read, use_pandas_metadata=True), rows, names
    pieces, start = [], 0
    for group in range(parquet.num_row_groups):
        count = parquet.metadata.row_group(group).num_rows
        first, last = np.searchsorted(positions, [start, start + count])
        if last > first:
            piece = parquet.read_row_group(group, columns=read, use_pandas_metadata=True)
            pieces.append(piece.take(positions[first:last] - start))
        start += count
    return pa.concat_tables(pieces), rows, names


class FileVersion(NamedTuple):
    """A file's size and modification time: rewriting the file changes them."""

    size: int
    mtime_ns: int

    def __str__(self) -> str:
        return f"{self.size}:{self.mtime_ns}"


def file_version(location: str | os.PathLike[str] | StoragePath) -> FileVersion | None:
    """The file's :class:`FileVersion`; None if unknown.

    Rewriting a file changes it (even with the same bytes), which is what makes it a cheap
    stand-in for :func:`file_digest` between two reads of an unchanged file. Stores that keep
    no modification time (fsspec then reports 0) have no version.
    """
    try:
        stat = as_path(location).stat()
        mtime = getattr(stat, "st_mtime_ns", None) or int(stat.st_mtime * 1e9)
        return FileVersion(int(stat.st_size), int(mtime)) if mtime else None
    except (OSError, AttributeError, KeyError, TypeError, ValueError, NotImplementedError):
        return None


def file_digest(location: str | os.PathLike[str] | StoragePath, *, name: str | None = None
                ) -> str:
    """A hash of a file's bytes, read in chunks: any change to the file changes it."""
    label = name or str(location)
    digest = hashlib.sha256()
    try:
        with as_path(location).open("rb") as handle:
            while chunk := handle.read(DIGEST_CHUNK):
                digest.update(chunk)
    except FileNotFoundError:
        raise DataError(f"{label}: data set not found") from None
    except OSError as exc:
        raise DataError(f"{label}: cannot be read: {short(exc)}") from None
    return digest.hexdigest()[:16]
