"""Where the plugin's app and the Airflow UI are served."""

from __future__ import annotations

from urllib.parse import urlparse

URL_PREFIX = "/mlops"


def ui_root() -> str:
    """The path the Airflow UI is served under (``[api] base_url``), without trailing /."""
    from airflow.configuration import conf

    base = conf.get("api", "base_url", fallback="/") or "/"
    return (urlparse(base).path if "://" in base else base).rstrip("/")
