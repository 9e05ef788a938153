"""Reading data sets from paths and URIs, and fingerprinting them.

Functions take a location as a string (a local path, ``file://...`` or any fsspec URI such
as ``s3://bucket/key.csv``) or as a path object with ``open``/``stat`` (``pathlib.Path``,
``upath.UPath`` or Airflow's ``ObjectStoragePath``, which brings connection credentials).
Input files are only ever opened for reading.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NamedTuple, Protocol
from urllib.parse import urlparse

from airflow_mlops.core.errors import DataError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import pyarrow as pa

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
    import pandas as pd
    from pyarrow import ArrowException

    label = name or str(location)
    path = as_path(location)
    kind = data_format(path, label)
    _require_file(path, label)
    try:
        with path.open("rb") as handle:
            frame = pd.read_csv(handle) if kind == "csv" else _read_parquet(handle)
    except FileNotFoundError:
        raise DataError(f"{label}: data set not found") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{label}: file has no header and no rows") from None
    except (ValueError, OSError, pd.errors.ParserError, ArrowException) as exc:
        raise DataError(f"{label}: cannot be read as {kind.upper()}: {short(exc)}") from None
    return require_rows(frame, label)


def _read_parquet(handle: IO[bytes]) -> pd.DataFrame:
    """An open Parquet file as ``pd.read_parquet`` reads it, decoded one column at a time.

    ``pd.read_parquet`` decodes the whole file into Arrow before converting it, so it peaks at
    about 2.7 times the frame it returns; column by column, at the frame plus one column.
    Each column stays its own block: joining them under copy-on-write copies nothing.
    """
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(handle)
    metadata = parquet.schema_arrow.pandas_metadata or {}
    stored_index = {c for c in metadata.get("index_columns", []) if isinstance(c, str)}
    index = parquet.read(columns=[], use_pandas_metadata=True).to_pandas().index
    columns = []
    for name in parquet.schema_arrow.names:
        if name not in stored_index:
            columns.append(parquet.read(columns=[name]).to_pandas())
            pa.default_memory_pool().release_unused()
    if not columns:
        return pd.DataFrame(index=index)
    with pd.option_context("mode.copy_on_write", True):
        frame = pd.concat(columns, axis=1)
    frame.index = index
    return frame


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
    """The rows :func:`sample_positions` drew from a data set, and how many rows it has."""

    frame: pd.DataFrame
    rows: int


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
    name: str | None = None,
) -> Sampled:
    """A seeded sample of a CSV or Parquet data set: the rows :func:`sample_positions` picks.

    Parquet is sampled while it is read: row group by row group, only the drawn rows are kept,
    so memory holds one row group and the sample, and only the sample becomes pandas. CSV is
    read whole, then sampled. A sampled frame has a fresh index; errors are :func:`read_table`'s.
    """
    from pyarrow import ArrowException

    label = name or str(location)
    path = as_path(location)
    if size is None or data_format(path, label) == "csv":
        frame = read_table(path, name=label)
        positions = sample_positions(len(frame.index), size, seed)
        sampled = frame if positions is None else frame.iloc[positions].reset_index(drop=True)
        return Sampled(sampled, len(frame.index))
    _require_file(path, label)
    try:
        with path.open("rb") as handle:
            table, rows = _parquet_sample(handle, size, seed)
    except FileNotFoundError:
        raise DataError(f"{label}: data set not found") from None
    except (ValueError, OSError, ArrowException) as exc:
        raise DataError(f"{label}: cannot be read as PARQUET: {short(exc)}") from None
    return Sampled(require_rows(table.to_pandas(), label), rows)


def _require_file(path: StoragePath, label: str) -> None:
    """Fail unless ``path`` exists and is not empty."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise DataError(f"{label}: data set not found") from None
    if size == 0:
        raise DataError(f"{label}: file is empty (0 bytes)")


def _parquet_sample(handle: IO[bytes], size: int, seed: int) -> tuple[pa.Table, int]:
    """The seeded sample of an open Parquet file as an Arrow table, and the file's row count."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(handle)
    rows = parquet.metadata.num_rows
    positions = sample_positions(rows, size, seed)
    if positions is None:
        return parquet.read(), rows
    pieces, start = [], 0
    for group in range(parquet.num_row_groups):
        count = parquet.metadata.row_group(group).num_rows
        first, last = np.searchsorted(positions, [start, start + count])
        if last > first:
            pieces.append(parquet.read_row_group(group).take(positions[first:last] - start))
        start += count
    return pa.concat_tables(pieces), rows


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
