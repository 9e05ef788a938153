"""What MLflow knows of each model, read through its Airflow connection, kept as a snapshot.

For the Models page: where the aliases point, the champion's model card, the alias ledger and
the latest drift window. A page for 100 models must answer within a second, and reading them
from a tracking server takes seconds (about six calls each), so the page is served from the
last snapshot (stale-while-revalidate): a state older than :data:`TTL_SECONDS` is shown as it
is while one background refresh reads it again. A refresh that fails keeps the last good
state and says so (``refresh_error``). A model the snapshot does not know yet, or knows as
not registered, or read before its last night ended, is read while the request waits (at
most :data:`WAIT_SECONDS`), so a snapshot taken before the first night never hides it.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from airflow_mlops.core import ledger, registry
from airflow_mlops.core.drift_history import WINDOW_END_METRIC, monitoring_experiment

if TYPE_CHECKING:
    from mlflow import MlflowClient

TTL_SECONDS = 30.0
WAIT_SECONDS = 5.0
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
    """A model as MLflow knows it; ``error`` says why it could not be read.

    ``champion_card``: the model card URI the champion version is tagged with (None without
    one); ``read_at``: when MLflow was read; ``refresh_error``: why the latest read failed,
    when this is the last good state kept instead.
    """

    name: str
    registered: bool = False
    aliases: dict[str, str] = field(default_factory=dict)
    champion_card: str | None = None
    ledger: list[ledger.Entry] = field(default_factory=list)
    drift: Drift | None = None
    error: str | None = None
    read_at: dt.datetime | None = None
    refresh_error: str | None = None


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
        champion_card=_card(client, name, aliases.get(registry.CHAMPION)),
        ledger=ledger.history(client, name, max_results=LEDGER_ENTRIES),
        drift=_latest_drift(client, experiment_name),
    )


def _card(client: MlflowClient, name: str, version: str | None) -> str | None:
    from airflow_mlops.core.model_card import CARD_TAG

    if version is None:
        return None
    return client.get_model_version(name, version).tags.get(registry.tag(CARD_TAG))


def _latest_drift(client: MlflowClient, experiment_name: str) -> Drift | None:
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


Key = tuple[str, str]  # (connection id, model)


@dataclass
class _Entry:
    state: ModelState
    expires: float
    batch: int


class StateCache:
    """The last state read of each (connection, model), refreshed by one background reader.

    :param connect: a client for a connection id, and the block to use it in (MLflow reads
        credentials from the process environment, so one connection is used at a time).
    :param ttl: seconds a state is shown before it is read again (in the background).
    :param wait: seconds a request waits at most for a model it must not show stale.
    """

    def __init__(self, connect: Callable, ttl: float = TTL_SECONDS,
                 clock: Callable[[], float] = time.monotonic,
                 wait: float = WAIT_SECONDS) -> None:
        self.connect, self.ttl, self.clock, self.wait = connect, ttl, clock, wait
        self._entries: dict[Key, _Entry] = {}
        self._pending: dict[Key, str] = {}
        self._reading: set[Key] = set()
        self._next_batch = 0
        self._reader: threading.Thread | None = None
        self._changed = threading.Condition()

    def states(self, wanted: Iterable[tuple[str, str, str]],
               changed_at: Mapping[str, dt.datetime] | None = None) -> dict[str, ModelState]:
        """State of each (connection id, model, experiment) in ``wanted``, by model name.

        ``changed_at``: when something last changed a model (its last night ended); a state
        read before that is read again before it is shown.
        """
        wanted = list(wanted)
        changed_at = changed_at or {}
        with self._changed:
            now, needed = self.clock(), {}
            for conn, name, experiment in wanted:
                key, entry = (conn, name), self._entries.get((conn, name))
                if key in self._reading:  # the read under way is recent enough for any need
                    if self._must_read(entry, changed_at.get(name)):
                        needed[key] = self._next_batch - 1
                elif self._must_read(entry, changed_at.get(name)):
                    needed[key] = self._next_batch
                    self._pending[key] = experiment
                elif entry.expires <= now:
                    self._pending[key] = experiment
            if self._pending:
                self._start_reader()
            if needed:
                self._changed.wait_for(
                    lambda: all(key in self._entries and self._entries[key].batch >= batch
                                for key, batch in needed.items()), timeout=self.wait)
            return {name: self._shown(conn, name) for conn, name, _ in wanted}

    def warm(self, wanted: Iterable[tuple[str, str, str]]) -> None:
        """Read every model of ``wanted`` in the background (the api-server's start)."""
        with self._changed:
            for conn, name, experiment in wanted:
                self._pending[(conn, name)] = experiment
            if self._pending:
                self._start_reader()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no refresh runs or waits to run; whether that happened in time."""
        with self._changed:
            return self._changed.wait_for(lambda: self._reader is None, timeout=timeout)

    def clear(self) -> None:
        """Forget every state (tests, and a page that must be exact)."""
        with self._changed:
            self._entries.clear()

    @staticmethod
    def _must_read(entry: _Entry | None, changed_at: dt.datetime | None) -> bool:
        if entry is None:
            return True
        state = entry.state
        if state.error or state.refresh_error:  # a failing server is retried in the background
            return False
        if not state.registered:  # one call: cheap, and a new model must appear at once
            return True
        return changed_at is not None and state.read_at is not None and state.read_at < changed_at

    def _shown(self, conn: str, name: str) -> ModelState:
        entry = self._entries.get((conn, name))
        if entry is None:
            return ModelState(name, error=f"still reading from MLflow connection '{conn}' "
                                          f"(more than {self.wait:.0f} s); reload in a moment")
        return entry.state

    def _start_reader(self) -> None:
        if self._reader is None:
            self._reader = threading.Thread(target=self._read_pending, name="mlops-states",
                                            daemon=True)
            self._reader.start()

    def _read_pending(self) -> None:
        """The one reader: takes what is pending, reads it, until nothing is."""
        while True:
            with self._changed:
                if not self._pending:
                    self._reader = None
                    self._changed.notify_all()
                    return
                taken, self._pending = self._pending, {}
                self._reading = set(taken)
                batch = self._next_batch
                self._next_batch += 1
            by_connection: dict[str, list[tuple[str, str]]] = {}
            for (conn, name), experiment in taken.items():
                by_connection.setdefault(conn, []).append((name, experiment))
            read = {(conn, state.name): state for conn, models in by_connection.items()
                    for state in self._read(conn, models)}
            with self._changed:
                expires = self.clock() + self.ttl
                for key, state in read.items():
                    self._entries[key] = _Entry(self._kept(key, state), expires, batch)
                self._reading = set()
                self._changed.notify_all()

    def _kept(self, key: Key, state: ModelState) -> ModelState:
        """``state``, or the last good state with ``state``'s error as its refresh error."""
        previous = self._entries.get(key)
        if state.error and previous is not None and not previous.state.error:
            return replace(previous.state, refresh_error=state.error)
        return state

    def _read(self, conn_id: str, models: list[tuple[str, str]]) -> list[ModelState]:
        try:
            with self.connect(conn_id) as client:
                with ThreadPoolExecutor(READERS) as pool:
                    return list(pool.map(lambda m: _read_one(client, *m), models))
        except Exception as exc:  # an unreachable server or a broken connection
            return [ModelState(name, error=f"MLflow connection '{conn_id}': {exc}",
                               read_at=_utcnow()) for name, _ in models]


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _read_one(client: MlflowClient, name: str, experiment: str) -> ModelState:
    read_at = _utcnow()
    try:
        return replace(read_state(client, name, experiment), read_at=read_at)
    except Exception as exc:  # one model's failure must not hide the others
        return ModelState(name, error=f"{type(exc).__name__}: {exc}", read_at=read_at)
