"""One line for an MLflow the CLI cannot use: the tracking URI, and why, in a few seconds.

MLflow retries a failed request seven times with a growing backoff (minutes against a
server that is down) and reports it as a traceback of some seventy lines. A command wraps
its MLflow calls in :func:`reaching_mlflow`, which asks MLflow to retry once and wait at
most :data:`REQUEST_TIMEOUT` seconds per request (unless the user's environment says
otherwise), and turns its failures into :class:`MlflowUnusableError`, which the CLI prints
as one line with exit code 2.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus
from urllib.parse import urlsplit

from airflow_mlops.core.errors import MlopsError
from airflow_mlops.core.io import short

REQUEST_TIMEOUT = 10
QUICK_MLFLOW = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": str(REQUEST_TIMEOUT),
}
# What requests and urllib3 say, inside MLflow's message, and what it means.
CAUSES = (
    (re.compile(r"Connection refused"), "connection refused"),
    (re.compile(r"Name or service not known|nodename nor servname|Failed to resolve|"
                r"Temporary failure in name resolution"), "host name not found"),
    (re.compile(r"timed out|timeout exception", re.IGNORECASE), "no answer within {timeout} s"),
    (re.compile(r"too many (\d{3}) error responses|failed with error code (\d{3})"),
     "answered HTTP {status}"),
    (re.compile(r"SSLError|CERTIFICATE_VERIFY_FAILED"), "TLS handshake failed"),
    (re.compile(r"Connection aborted|RemoteDisconnected|Connection reset"),
     "closed the connection"),
)


class MlflowUnusableError(MlopsError):
    """The tracking server or registry cannot be reached, or refused a request."""


def describe(exc: Exception) -> str:
    """What went wrong, in a few words, from an MLflow or requests exception."""
    text = str(exc)
    for pattern, cause in CAUSES:
        found = pattern.search(text)
        if found:
            code = next((int(g) for g in found.groups() if g), None)
            timeout = os.environ.get("MLFLOW_HTTP_REQUEST_TIMEOUT", REQUEST_TIMEOUT)
            return cause.format(status=code and _status(code), timeout=timeout)
    return short(exc)


def _status(code: int) -> str:
    try:
        return f"{code} {HTTPStatus(code).phrase}"
    except ValueError:
        return str(code)


def redacted(uri: str) -> str:
    """``uri`` without the password it may carry (``https://user:secret@host``)."""
    parts = urlsplit(uri)
    if not parts.password:
        return uri
    host = parts.netloc.rsplit("@", 1)[1]
    return parts._replace(netloc=f"{parts.username}:***@{host}").geturl()


@contextmanager
def _quick_requests() -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in QUICK_MLFLOW}
    for name, value in QUICK_MLFLOW.items():
        os.environ.setdefault(name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)


@contextmanager
def reaching_mlflow(uri: str) -> Iterator[None]:
    """A block of MLflow calls against ``uri`` that fail fast, as one line naming it.

    :raises MlflowUnusableError: MLflow (or the HTTP layer under it) failed in the block.
    """
    import requests
    from mlflow.exceptions import MlflowException

    with _quick_requests():
        try:
            yield
        except (MlflowException, requests.RequestException) as exc:
            raise MlflowUnusableError(f"MLflow at {redacted(uri)}: {describe(exc)}") from None
