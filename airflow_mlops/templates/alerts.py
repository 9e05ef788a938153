"""Alerts a model config asks for: Airflow notifiers, imported only when one is sent."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_mlops.core.errors import ConfigError
from airflow_mlops.core.imports import import_path

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_mlops.core.config import NotifierSpec


def resolve_notifier(path: str) -> type:
    """The Airflow notifier class at ``path``, with an error naming it otherwise."""
    from airflow.sdk import BaseNotifier

    found = import_path(path)
    if found is None:
        raise ConfigError(f"notifier '{path}' cannot be imported")
    if not (isinstance(found, type) and issubclass(found, BaseNotifier)):
        raise ConfigError(f"'{path}' is not an Airflow notifier (a BaseNotifier class)")
    return found


class ConfiguredNotifier:
    """A task callback sending one notifier's alert (a ``BaseNotifier`` by import path).

    Importing a notifier's provider at every parse would slow the DAG processor down for an
    alert that may never be sent, so the class is resolved when the callback runs.
    """

    def __init__(self, import_path: str, params: dict[str, Any]) -> None:
        self.import_path = import_path
        self.params = params

    def __call__(self, context: Context) -> None:
        resolve_notifier(self.import_path)(**self.params)(context)

    def __repr__(self) -> str:
        return f"ConfiguredNotifier({self.import_path!r})"


def notifiers(specs: list[NotifierSpec]) -> list[ConfiguredNotifier]:
    """One callback per configured notifier."""
    return [ConfiguredNotifier(spec.notifier, dict(spec.params)) for spec in specs]
