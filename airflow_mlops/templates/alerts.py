"""Alerts a model config asks for: Airflow notifiers, imported only when one is sent."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_mlops.core.errors import ConfigError
from airflow_mlops.core.imports import NOTIFIER_PREFIXES, import_path
from airflow_mlops.operators.templating import render_config_text

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_mlops.core.config import NotifierSpec


def resolve_notifier(path: str) -> type:
    """The Airflow notifier class at ``path``, with an error naming it otherwise."""
    from airflow.sdk import BaseNotifier

    found = import_path(path, "notifier", NOTIFIER_PREFIXES)
    if found is None:
        raise ConfigError(f"notifier '{path}' cannot be imported")
    if not (isinstance(found, type) and issubclass(found, BaseNotifier)):
        raise ConfigError(f"'{path}' is not an Airflow notifier (a BaseNotifier class)")
    return found


class ConfiguredNotifier:
    """A task callback sending one notifier's alert (a ``BaseNotifier`` by import path).

    Importing a notifier's provider at every parse would slow the DAG processor down for an
    alert that may never be sent, so the class is resolved when the callback runs. Its params
    are config text: rendered once by the config rules, then the notifier sends them as they
    are (``notify``; calling the notifier would render them again with Airflow's Jinja).
    """

    def __init__(self, import_path: str, params: dict[str, Any]) -> None:
        self.import_path = import_path
        self.params = params

    def __call__(self, context: Context) -> None:
        params = _rendered(self.params, context, f"alert {self.import_path}")
        resolve_notifier(self.import_path)(**params).notify(context)

    def __repr__(self) -> str:
        return f"ConfiguredNotifier({self.import_path!r})"


def _rendered(value: Any, context: Context, label: str) -> Any:
    if isinstance(value, str):
        return render_config_text(value, context, label)
    if isinstance(value, dict):
        return {key: _rendered(item, context, f"{label} param '{key}'")
                for key, item in value.items()}
    if isinstance(value, list):
        return [_rendered(item, context, label) for item in value]
    return value


def notifiers(specs: list[NotifierSpec]) -> list[ConfiguredNotifier]:
    """One callback per configured notifier."""
    return [ConfiguredNotifier(spec.notifier, dict(spec.params)) for spec in specs]
