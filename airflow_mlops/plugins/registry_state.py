"""What MLflow knows of each model, read through its Airflow connection, cached briefly.

For the Models page: where the aliases point, the alias ledger and the latest drift window.
A page for 100 models must answer within a second, and a tracking server answers each call
in milliseconds to tens of milliseconds: every model's state is kept for :data:`TTL_SECONDS`
and read again, concurrently, only after that.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from airflow_mlops.core import ledger, registry
from airflow_mlops.core.drift_history import WINDOW_END_METRIC, monitoring_experiment

if TYPE_CHECKING:
    from mlflow import MlflowClient

TTL_SECONDS = 30.0
LEDGER_ENTRIES = 10
READERS = 8
ALIASES = (registry.CHAMPION, registry.PREVIOUS_CHAMPION, registry.CHALLENGER)


@dataclass(frozen=True)
class Drift:
    """The newest checked drift window of a model."""

    window_end: str
    drifted: str
    champion_version: str
    run_id: str


@dataclass(frozen=True)
class ModelState:
    """A model as MLflow knows it; ``error`` says why it could not be read."""

    name: str
    registered: bool = False
    aliases: dict[str, str] = field(default_factory=dict)
    ledger: list[ledger.Entry] = field(default_factory=list)
    drift: Drift | None = None
    error: str | None = None


def read_state(client: MlflowClient, name: str, experiment_name: str) -> ModelState:
    """One model's aliases, newest ledger entries and newest drift window."""
    from mlflow.exceptions import MlflowException

    try:
        model = client.get_registered_model(name)
    except MlflowException as exc:
        if exc.error_code in registry.NOT_FOUND_CODES:
            return ModelState(name)
        raise
    aliases = {alias: str(version) for alias, version in model.aliases.items()}
    return ModelState(
        name, registered=True, aliases=aliases,
        ledger=ledger.history(client, name, max_results=LEDGER_ENTRIES),
        drift=_latest_drift(client, experiment_name),
    )


def _latest_drift(client: MlflowClient, experiment_name: str) -> Drift | None:
    import datetime as dt

    experiment = client.get_experiment_by_name(monitoring_experiment(experiment_name))
    if experiment is None:
        return None
    runs = client.search_runs(
        [experiment.experiment_id],
        filter_string=f"tags.`{registry.tag('monitor')}` = 'drift'",
        order_by=[f"metrics.{WINDOW_END_METRIC} DESC"], max_results=1,
    )
    if not runs:
        return None
    run = runs[0]
    tags, end = run.data.tags, run.data.metrics.get(WINDOW_END_METRIC)
    return Drift(
        window_end="" if end is None else
        dt.datetime.fromtimestamp(end, dt.timezone.utc).strftime("%Y-%m-%d %H:%M"),
        drifted=tags.get(registry.tag("drifted"), "unknown"),
        champion_version=tags.get(registry.tag("champion_version"), ""),
        run_id=run.info.run_id,
    )


class StateCache:
    """Model states per (connection, model), each kept for ``ttl`` seconds.

    :param connect: a client for a connection id, and the block to use it in (MLflow reads
        credentials from the process environment, so one connection is used at a time).
    """

    def __init__(self, connect: Callable, ttl: float = TTL_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.connect, self.ttl, self.clock = connect, ttl, clock
        self._states: dict[tuple[str, str], tuple[float, ModelState]] = {}
        self._lock = threading.Lock()

    def states(self, wanted: Iterable[tuple[str, str, str]]) -> dict[str, ModelState]:
        """State of each (connection id, model, experiment) in ``wanted``, by model name."""
        wanted = list(wanted)
        with self._lock:
            now = self.clock()
            fresh = {key: state for key, (expires, state) in self._states.items()
                     if expires > now}
            stale = [item for item in wanted if item[:2] not in fresh]
            by_connection: dict[str, list[tuple[str, str]]] = {}
            for conn_id, name, experiment in stale:
                by_connection.setdefault(conn_id, []).append((name, experiment))
            for conn_id, models in by_connection.items():
                for state in self._read(conn_id, models):
                    fresh[(conn_id, state.name)] = state
                    self._states[(conn_id, state.name)] = (now + self.ttl, state)
        return {name: fresh[(conn_id, name)] for conn_id, name, _ in wanted}

    def _read(self, conn_id: str, models: list[tuple[str, str]]) -> list[ModelState]:
        try:
            with self.connect(conn_id) as client:
                with ThreadPoolExecutor(READERS) as pool:
                    return list(pool.map(lambda m: _read_one(client, *m), models))
        except Exception as exc:  # an unreachable server or a broken connection
            return [ModelState(name, error=f"MLflow connection '{conn_id}': {exc}")
                    for name, _ in models]

    def clear(self) -> None:
        """Forget every state (tests, and a page that must be exact)."""
        with self._lock:
            self._states.clear()


def _read_one(client: MlflowClient, name: str, experiment: str) -> ModelState:
    try:
        return read_state(client, name, experiment)
    except Exception as exc:  # one model's failure must not hide the others
        return ModelState(name, error=f"{type(exc).__name__}: {exc}")
