"""Objects a config names by import path (``package.module.name``), from allowed modules only.

The path is checked against the allowed module prefixes before anything is imported, and the
object found must be defined in an allowed module too (not merely re-exported by one).
``$AIRFLOW_MLOPS_IMPORT_PREFIXES`` (comma-separated, e.g. ``acme_ml.,team.metrics.``) adds a
team's packages to every kind.
"""

from __future__ import annotations

import importlib
import os
import re
from typing import Any

from airflow_mlops.core.errors import ConfigError

IMPORT_PREFIXES_ENV = "AIRFLOW_MLOPS_IMPORT_PREFIXES"
MODEL_PREFIXES = ("sklearn.", "airflow_mlops.")  # estimators and custom metrics
NOTIFIER_PREFIXES = ("airflow.providers.*.notifications.",)  # "*": one or more segments


def allowed_prefixes(defaults: tuple[str, ...]) -> tuple[str, ...]:
    """``defaults`` and the team prefixes of ``$AIRFLOW_MLOPS_IMPORT_PREFIXES``."""
    team = (part.strip() for part in os.environ.get(IMPORT_PREFIXES_ENV, "").split(","))
    return (*defaults, *(p if p.endswith(".") else f"{p}." for p in team if p))


def _allowed(name: str, prefixes: tuple[str, ...]) -> bool:
    patterns = (re.escape(p).replace(r"\*", r"[A-Za-z0-9_.]+") for p in prefixes)
    return any(re.match(pattern, f"{name}.") for pattern in patterns)


def import_path(path: str, kind: str, defaults: tuple[str, ...]) -> Any | None:
    """The object at ``path``; None when it cannot be imported (callers say what it was).

    A ConfigError, before any import, when ``path`` lies outside the allowed prefixes.
    """
    prefixes = allowed_prefixes(defaults)
    module_name, _, attribute = path.rpartition(".")
    if not module_name or not _allowed(module_name, prefixes):
        raise ConfigError(f"{kind} '{path}' is not in an allowed module ({', '.join(prefixes)}; "
                          f"${IMPORT_PREFIXES_ENV} adds a team's packages)")
    try:
        found = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError, ValueError):
        return None
    defined_in = getattr(found, "__module__", None)
    if not isinstance(defined_in, str) or not _allowed(defined_in, prefixes):
        raise ConfigError(f"{kind} '{path}' is defined in {defined_in or 'no module'}, "
                          "outside the allowed modules")
    return found
