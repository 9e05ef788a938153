"""Validated model configs kept between parses: a folder of JSON entries named by their key.

The key (computed by :mod:`airflow_mlops.core.config`) digests a config file's exact bytes and
everything that shaped its validated form, so a changed file or setting never meets an old
entry. The folder (``$AIRFLOW_HOME/.airflow-mlops-cache/configs``, or
``$AIRFLOW_MLOPS_CONFIG_CACHE``; ``off`` disables it) is created ``0700`` and used only while it
is owned by the parsing user and writable by no one else; an entry is read only when it is a
regular file owned by that user and writable by no one else. Whoever can write there can write
the user's DAG files too, and the reader validates every entry again anyway. Entries are never
pruned: delete the folder at any time.
"""

from __future__ import annotations

import logging
import os
import stat
import tempfile
from pathlib import Path

CACHE_ENV = "AIRFLOW_MLOPS_CONFIG_CACHE"
CACHE_OFF = "off"

log = logging.getLogger(__name__)


def cache_folder() -> Path | None:
    """Where entries live: ``$AIRFLOW_MLOPS_CONFIG_CACHE``, else under ``$AIRFLOW_HOME``."""
    configured = os.environ.get(CACHE_ENV)
    if configured == CACHE_OFF:
        return None
    if configured:
        return Path(configured)
    home = Path(os.environ.get("AIRFLOW_HOME") or "~/airflow").expanduser()
    return home / ".airflow-mlops-cache" / "configs"


def _private(info: os.stat_result, kind: int, writable_by_others: int) -> bool:
    return (stat.S_IFMT(info.st_mode) == kind and info.st_uid == os.getuid()
            and not info.st_mode & writable_by_others)


def _usable_folder() -> Path | None:
    """The cache folder, created ``0700``; None when it is off or others could write it."""
    folder = cache_folder()
    if folder is None:
        return None
    try:
        info = os.lstat(folder)
    except FileNotFoundError:
        try:
            for part in (folder.parent, folder):
                part.mkdir(mode=0o700, exist_ok=True, parents=part is folder.parent)
            info = os.lstat(folder)
        except OSError:
            return None
    except OSError:
        return None
    if not _private(info, stat.S_IFDIR, 0o077):
        log.warning("Config cache %s is not private to this user (0700); not used", folder)
        return None
    return folder


def read_entry(key: str) -> bytes | None:
    """The entry stored under ``key``, when present and private to this user."""
    folder = _usable_folder()
    if folder is None:
        return None
    try:
        descriptor = os.open(folder / f"{key}.json", os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    with os.fdopen(descriptor, "rb") as entry:
        if not _private(os.fstat(descriptor), stat.S_IFREG, 0o022):
            return None
        return entry.read()


def write_entry(key: str, data: bytes) -> None:
    """Store ``data`` under ``key`` (``0600``, replaced atomically); a failure only logs."""
    folder = _usable_folder()
    if folder is None:
        return
    temporary = None
    try:
        descriptor, temporary = tempfile.mkstemp(dir=folder, suffix=".tmp")
        with os.fdopen(descriptor, "wb") as entry:
            entry.write(data)
        os.replace(temporary, folder / f"{key}.json")
    except OSError as exc:
        log.debug("Config cache entry %s not written: %s", key, exc)
        if temporary:
            Path(temporary).unlink(missing_ok=True)
