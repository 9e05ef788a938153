"""Operator fields that take model-config text: rendered once by the config allow-list.

An operator lists such fields in ``config_template_fields`` (each also in
``template_fields``, so the UI shows the rendered value). Their text is rendered with the
restricted environment of :mod:`airflow_mlops.core.templating` and the documented variables
only, is never read as a template file, and is never rendered again by Airflow's own Jinja
environment, whoever built the operator. A DAG author who needs Airflow's full Jinja in such
a field passes a :class:`TrustedTemplate`; a config cannot produce one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowFailException

from airflow_mlops.core.errors import ConfigError
from airflow_mlops.core.templating import render_config_template

if TYPE_CHECKING:
    import jinja2
    from airflow.sdk import Context


class TrustedTemplate(str):
    """Text a DAG author wrote: Airflow's full Jinja environment renders it, even in a field
    that takes config text. Any string operation on it gives back a plain (config) string."""


def requested_window_ds(triggering_asset_events: Any, dag_run: Any) -> str:
    """The partition date of the newest window that requested this run; else its run date."""
    events = [event for events in (triggering_asset_events or {}).values() for event in events]
    newest = max(events, key=lambda event: event.timestamp, default=None)
    window = (newest.extra or {}).get("window") if newest is not None else None
    if isinstance(window, dict) and window.get("ds"):
        return _iso_date(window["ds"])
    return f"{dag_run.run_after:%Y-%m-%d}"


def _iso_date(value: Any) -> str:
    """An event's window date as YYYY-MM-DD: it lands in paths, so nothing else gets through."""
    try:
        return dt.date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise ValueError(
            f"the retrain request's window date {value!r} is not a date (YYYY-MM-DD)"
        ) from None


def config_variables(context: Context) -> dict[str, Any]:
    """The variables config text may use. A run without a logical date (asset-triggered or
    manual) takes ``ds`` from the window that requested it, else from its run date."""
    ds = context.get("ds")
    if ds is None:
        ds = requested_window_ds(context.get("triggering_asset_events"), context["dag_run"])
    return {
        "ds": ds,
        "ds_nodash": ds.replace("-", ""),
        "data_interval_start": context.get("data_interval_start"),
        "data_interval_end": context.get("data_interval_end"),
        "dag_id": context["dag"].dag_id,
        "task_id": context["ti"].task_id,
    }


def render_config_text(text: str, context: Context, label: str) -> str:
    """``text`` rendered by the config rules; a failure that names ``label`` and is not retried."""
    try:
        return render_config_template(text, config_variables(context))
    except ConfigError as exc:
        raise AirflowFailException(f"{label}: {exc}") from None


class ConfigTemplatedMixin:
    """Renders ``config_template_fields`` by the config rules (put it before BaseOperator)."""

    config_template_fields: Sequence[str] = ()

    def _config_fields(self, fields: Iterable[str]) -> list[str]:
        return [field for field in fields if field in self.config_template_fields
                and not isinstance(getattr(self, field), TrustedTemplate)]

    def resolve_template_files(self) -> None:
        """Config text is never the name of a template file to read."""
        kept = {field: getattr(self, field) for field in self._config_fields(self.template_fields)}
        super().resolve_template_files()
        for field, value in kept.items():
            if getattr(self, field) is not value:  # read as a file's name: the text goes back
                setattr(self, field, value)

    def _do_render_template_fields(
        self, parent: Any, template_fields: Iterable[str], context: Context,
        jinja_env: jinja2.Environment, seen_oids: set[int],
    ) -> None:
        # Both BaseOperator.render_template_fields and a mapped task's unmapping come here.
        if parent is self:
            config_fields = self._config_fields(template_fields)
            rendered = self.__dict__.setdefault("_config_fields_rendered", set())
            for field in config_fields:
                value = getattr(self, field)
                if isinstance(value, str) and field not in rendered:
                    label = f"field '{field}' of task {getattr(self, 'task_id', '?')}"
                    setattr(self, field, render_config_text(value, context, label))
                    rendered.add(field)
            template_fields = [field for field in template_fields
                               if field not in config_fields or field not in rendered]
        super()._do_render_template_fields(parent, template_fields, context, jinja_env, seen_oids)
