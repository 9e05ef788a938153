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
from typing import IO, TYPE_CHECKING, Any, Protocol
from urllib.parse import urlparse

from airflow_mlops.core.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

READERS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
MAX_MESSAGE = 300


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
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise DataError(f"{label}: data set not found") from None
    if size == 0:
        raise DataError(f"{label}: file is empty (0 bytes)")
    try:
        with path.open("rb") as handle:
            frame = pd.read_csv(handle) if kind == "csv" else pd.read_parquet(handle)
    except FileNotFoundError:
        raise DataError(f"{label}: data set not found") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{label}: file has no header and no rows") from None
    except (ValueError, OSError, pd.errors.ParserError, ArrowException) as exc:
        raise DataError(f"{label}: cannot be read as {kind.upper()}: {short(exc)}") from None
    return require_rows(frame, label)


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
