"""Names joined onto a configured folder stay inside it.

A file or folder name derived from run, task or data values (a run id, a data set's file name,
a rendered DAG param) may be hostile. Joined onto a configured root (a local path, ``file://``
or an fsspec URI such as ``s3://bucket/prefix``) it must name something inside that root:
``..`` segments are normalised and may not climb above it; absolute paths, URIs, backslashes,
control characters and URL-encoded dots or separators are refused; for local roots, a symbolic
link may not lead out either.
"""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path
from typing import TypeVar
from urllib.parse import unquote, urlparse

from airflow_mlops.core.errors import PathEscapeError

Root = TypeVar("Root")
DRIVE = re.compile(r"[A-Za-z]:")
TEMPLATE_START = re.compile(r"\{[{%#]")
LOCAL_PROTOCOLS = {"file", "local"}


def _decoded(segment: str) -> str:
    """``segment`` with URL-encoding undone (repeatedly) and Unicode look-alikes folded."""
    previous = None
    while segment != previous:
        previous, segment = segment, unquote(segment)
    return unicodedata.normalize("NFKC", segment)


def _hidden_traversal(segment: str) -> bool:
    """Whether encoding or look-alike characters hide a dot segment or a separator."""
    decoded = _decoded(segment)
    return decoded != segment and (decoded in {".", ".."} or "/" in decoded or "\\" in decoded)


def _plain_problem(text: str) -> str | None:
    if any(ord(char) < 32 or ord(char) == 127 for char in text):
        return "it holds a control character"
    if "\\" in text:
        return "it holds a backslash"
    hidden = next((s for s in text.split("/") if _hidden_traversal(s)), None)
    if hidden is not None:
        return f"segment {hidden!r} hides '..' or a separator in its encoding"
    return None


def _segments(relative: str) -> tuple[list[str], str | None]:
    """The normalised segments of ``relative``, or why it cannot stay under a root."""
    if not isinstance(relative, str):
        return [], f"it is a {type(relative).__name__}, not a string"
    if relative.startswith("/") or "://" in relative or DRIVE.match(relative):
        return [], "it is absolute"
    problem = _plain_problem(relative)
    if problem:
        return [], problem
    kept: list[str] = []
    for segment in relative.split("/"):
        if segment in {"", "."}:
            continue
        if segment != "..":
            kept.append(segment)
        elif kept:
            kept.pop()
        else:
            return [], "'..' climbs above the root"
    return kept, None if kept else "it names the root itself, not something inside it"


def _local(location: object) -> Path | None:
    """The local file system path of ``location``; None for object storage."""
    if isinstance(location, Path):
        return location
    if isinstance(location, (str, os.PathLike)):
        text = os.fspath(location)
        if "://" not in text:
            return Path(text)
        return Path(urlparse(text).path) if text.startswith("file://") else None
    if getattr(location, "protocol", None) in LOCAL_PROTOCOLS:
        return Path(location.path)
    return None


def resolve_under(root: Root, relative: str, *, what: str = "path") -> Root:
    """``root`` joined with ``relative``, which must name something strictly inside ``root``.

    ``root`` is a local path or URI string (the result is a string) or a path object such as
    ``Path``, ``UPath`` or ``ObjectStoragePath`` (the result is one of the same kind).

    :param what: how the error names ``relative``, e.g. ``"quarantine copy"``.
    :raises PathEscapeError: ``relative`` would leave ``root``; the message names both.
    """
    segments, problem = _segments(relative)
    if problem:
        raise PathEscapeError(f"{what} {relative!r} would leave {root}: {problem}; refusing it")
    if hasattr(root, "open"):
        joined = root
        for segment in segments:
            joined = joined / segment
    else:
        joined = "/".join([os.fspath(root).rstrip("/"), *segments])
    local_root, local_joined = _local(root), _local(joined)
    if local_root is not None and local_joined is not None and not (
        local_joined.resolve().is_relative_to(local_root.resolve())
    ):
        raise PathEscapeError(
            f"{what} {relative!r} would leave {root}: a symbolic link leads to "
            f"{local_joined.resolve()}; refusing it"
        )
    return joined


def require_under(root: str, location: str, *, what: str = "path") -> str:
    """``location``, a string built as ``root`` + ``/`` + names, normalised; it must stay
    inside ``root``.

    :raises PathEscapeError: ``location`` does not start with ``root`` or leaves it.
    """
    base = root.rstrip("/")
    if not location.startswith(base + "/"):
        raise PathEscapeError(f"{what} {location!r} is not inside {root}; refusing it")
    return resolve_under(root, location[len(base) + 1:], what=what)


def refuse_traversal(location: str, *, what: str = "location") -> str:
    """``location`` itself, if none of its segments is ``..`` (plain or hidden by encoding).

    For a configured folder whose value is rendered from templates (DAG params, run conf,
    asset events): whatever was substituted may not climb out of the folder the template
    names.

    :raises PathEscapeError: ``location`` holds a ``..`` segment or hides one.
    """
    path = location.split("://", 1)[1] if "://" in location else location
    problem = _plain_problem(path)
    if problem is None and ".." in path.split("/"):
        problem = "a '..' segment climbs out of the folder it names"
    if problem:
        raise PathEscapeError(f"{what} {location!r}: {problem}; refusing it")
    return location


def template_root(template: str) -> str | None:
    """The folder every rendering of the location ``template`` lies in: the text before its
    first Jinja tag, up to the last ``/`` (a plain location: its folder).

    ``/data/churn/ds={{ ds }}/part.csv`` gives ``/data/churn``. None when that leaves no
    folder, or only a file system's or a store's root (``/``, ``s3://``): such a root would
    allow everything.
    """
    prefix = TEMPLATE_START.split(template, maxsplit=1)[0]
    scheme, separator, path = prefix.rpartition("://")
    folder = path.rpartition("/")[0]
    if not folder.strip("/"):
        return None
    return f"{scheme}{separator}{folder}"
