"""Quarantine: copy a failing batch aside, so nothing is lost and the original stays put."""

from __future__ import annotations

import os
import shutil
from typing import TYPE_CHECKING

from airflow_mlops.core.errors import DataError
from airflow_mlops.core.io import StoragePath, as_path, short
from airflow_mlops.core.paths import resolve_under

if TYPE_CHECKING:
    import pandas as pd


def _target(folder: str | os.PathLike[str] | StoragePath, name: str) -> StoragePath:
    target = resolve_under(as_path(folder), name, what="quarantine copy")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"{folder}: quarantine folder cannot be created: {short(exc)}") from None
    return target


def quarantine_file(
    source: str | os.PathLike[str] | StoragePath, folder: str | os.PathLike[str] | StoragePath
) -> str:
    """Copy ``source`` into ``folder`` under its own name; ``source`` is only read.

    A second call for the same source and folder overwrites the earlier copy.

    :return: the location of the copy.
    :raises PathEscapeError: the source's name would place the copy outside ``folder``.
    """
    source_path = as_path(source)
    target = _target(folder, source_path.name)
    if str(target) == str(source_path):
        raise DataError(f"{source}: quarantine folder {folder} is the data set's own folder")
    try:
        with source_path.open("rb") as reader, target.open("wb") as writer:
            shutil.copyfileobj(reader, writer)
    except OSError as exc:
        raise DataError(f"{source}: cannot be copied to {target}: {short(exc)}") from None
    return str(target)


def quarantine_frame(
    frame: pd.DataFrame, folder: str | os.PathLike[str] | StoragePath, name: str
) -> str:
    """Write ``frame`` (e.g. a query's result) as Parquet file ``name`` in ``folder``.

    :return: the location of the copy.
    :raises PathEscapeError: ``name`` would place the copy outside ``folder``.
    """
    target = _target(folder, name)
    try:
        with target.open("wb") as writer:
            frame.to_parquet(writer, index=False)
    except (OSError, ValueError) as exc:
        raise DataError(f"{target}: the failing batch cannot be written: {short(exc)}") from None
    return str(target)
