"""Objects a config names by import path (``package.module.name``)."""

from __future__ import annotations

import importlib
from typing import Any


def import_path(path: str) -> Any | None:
    """The object at ``path``, or None when it cannot be imported; callers say what it was."""
    module_name, _, attribute = path.rpartition(".")
    try:
        return getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError, ValueError):
        return None
