"""Reading data sets from URIs, and fingerprinting them."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from airflow_mlops.core.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

READERS = {".csv": "read_csv", ".parquet": "read_parquet", ".pq": "read_parquet"}


def _suffix(uri: str) -> str:
    path = urlparse(uri).path if "://" in uri else uri
    return "." + path.rsplit(".", 1)[-1].lower() if "." in path.rsplit("/", 1)[-1] else ""


def read_table(uri: str) -> pd.DataFrame:
    """Load a CSV or Parquet data set from a local path or any fsspec URI."""
    import pandas as pd

    reader = READERS.get(_suffix(uri))
    if reader is None:
        raise DataError(f"{uri}: unsupported file type; expected one of {sorted(READERS)}")
    try:
        frame = getattr(pd, reader)(uri)
    except FileNotFoundError:
        raise DataError(f"{uri}: data set not found") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{uri}: file is empty (0 bytes, no header)") from None
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise DataError(f"{uri}: cannot be read as {reader.removeprefix('read_')}: {exc}") from None
    if frame.empty:
        raise DataError(f"{uri}: data set has no rows")
    return frame


def fingerprint(frame: pd.DataFrame) -> str:
    """A content hash of a data frame: same rows, columns and values give the same value."""
    import pandas as pd

    digest = hashlib.sha256()
    digest.update(",".join(map(str, frame.columns)).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).values.tobytes())
    return digest.hexdigest()[:16]
