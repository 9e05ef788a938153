"""The alias ledger: every move of a registry alias, durable and append-only, in MLflow.

Each move is one MLflow run in experiment :data:`LEDGER_EXPERIMENT`: its tags say which model
and alias moved, from and to which version, by which action (promote, rollback, train), for
which Airflow DAG run and why; its start time is the time of the move. Runs rather than a
JSON file because every worker that reaches the tracking server can read and append them
without a read-modify-write race (two writers of one file lose an entry), the server filters
and orders them (``search_runs``), and the MLflow UI shows them.

An entry is written *before* the alias moves, with run status ``RUNNING`` (in progress), and
set to ``FINISHED`` once the move is verified, or ``FAILED`` when it was abandoned. Its key
(model, alias, action, dag_id, run_id) lets a re-run of the same DAG run find it: a finished
entry means there is nothing left to do, an unfinished one says exactly which move to
complete. So every prefix of the writes is safe to re-run, and a re-run never adds a second
entry.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from airflow_mlops.core.errors import RegistryError

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run

LEDGER_EXPERIMENT = "airflow-mlops/ledger"
IN_PROGRESS, DONE, ABANDONED = "RUNNING", "FINISHED", "FAILED"
MAX_REASON = 4000
FIELDS = ("model", "alias", "from_version", "to_version", "action", "dag_id", "dag_run_id",
          "reason", "key")


@dataclass(frozen=True)
class Entry:
    """One alias move. ``entry_id`` is the MLflow run that records it; ``status`` is
    ``RUNNING`` (in progress), ``FINISHED`` (done) or ``FAILED`` (abandoned)."""

    entry_id: str
    time: dt.datetime
    model: str
    alias: str
    from_version: str | None
    to_version: str
    action: str
    dag_id: str
    dag_run_id: str
    reason: str
    key: str
    status: str

    @property
    def done(self) -> bool:
        """Whether the move completed."""
        return self.status == DONE

    def to_dict(self) -> dict:
        """The entry as plain JSON types."""
        return {**asdict(self), "time": self.time.isoformat()}


def entry_key(model: str, alias: str, action: str, lineage: dict[str, str]) -> str:
    """The idempotency key of a move: model, alias, action and the DAG run behind it."""
    parts = (model, alias, action, lineage.get("dag_id", ""), lineage.get("run_id", ""))
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def begin(
    client: MlflowClient,
    *,
    model: str,
    alias: str,
    from_version: str | None,
    to_version: str,
    action: str,
    reason: str,
    lineage: dict[str, str],
) -> Entry:
    """Record a move about to happen (status ``RUNNING``); :func:`finish` completes it."""
    tags = {
        "model": model,
        "alias": alias,
        "from_version": from_version or "",
        "to_version": to_version,
        "action": action,
        "dag_id": lineage.get("dag_id", ""),
        "dag_run_id": lineage.get("run_id", ""),
        "reason": reason[:MAX_REASON],
        "key": entry_key(model, alias, action, lineage),
    }
    run = client.create_run(
        _experiment_id(client, create=True),
        start_time=time.time_ns() // 1_000_000,
        tags=tags,
        run_name=f"{model} {alias}: {from_version or '-'} -> {to_version}",
    )
    return _entry(run)


def finish(client: MlflowClient, entry: Entry, status: str = DONE) -> Entry:
    """Mark ``entry`` done (``FINISHED``) or abandoned (``FAILED``)."""
    client.set_terminated(entry.entry_id, status)
    return Entry(**{**asdict(entry), "status": status})


def find(client: MlflowClient, model: str, key: str) -> Entry | None:
    """The entry of ``model`` with idempotency ``key``, or None."""
    found = _search(client, f"tags.model = {_quoted(model)} and tags.key = {_quoted(key)}", 1)
    return found[0] if found else None


def history(client: MlflowClient, model: str, *, alias: str | None = None,
            max_results: int = 100) -> list[Entry]:
    """The newest ``max_results`` entries of ``model`` (of one ``alias``), newest first."""
    query = f"tags.model = {_quoted(model)}"
    if alias is not None:
        query += f" and tags.alias = {_quoted(alias)}"
    return _search(client, query, max_results)


def alias_at(client: MlflowClient, model: str, alias: str, when: dt.datetime) -> str | None:
    """The version ``alias`` pointed at, at time ``when``, by the completed moves."""
    millis = int(when.timestamp() * 1000)
    query = (f"tags.model = {_quoted(model)} and tags.alias = {_quoted(alias)} and "
             f"attributes.status = '{DONE}' and attributes.start_time <= {millis}")
    found = _search(client, query, 1)
    return found[0].to_version if found else None


def _search(client: MlflowClient, query: str, max_results: int) -> list[Entry]:
    experiment_id = _experiment_id(client, create=False)
    if experiment_id is None:
        return []
    runs = client.search_runs([experiment_id], filter_string=query, max_results=max_results,
                              order_by=["attributes.start_time DESC"])
    return [_entry(run) for run in runs]


def _experiment_id(client: MlflowClient, *, create: bool) -> str | None:
    from mlflow.exceptions import MlflowException

    experiment = client.get_experiment_by_name(LEDGER_EXPERIMENT)
    if experiment is not None and experiment.lifecycle_stage == "deleted":
        raise RegistryError(f"experiment '{LEDGER_EXPERIMENT}' (the alias ledger) is deleted; "
                            "restore it in MLflow")
    if experiment is not None or not create:
        return None if experiment is None else experiment.experiment_id
    try:
        return client.create_experiment(LEDGER_EXPERIMENT)
    except MlflowException:  # created concurrently
        return client.get_experiment_by_name(LEDGER_EXPERIMENT).experiment_id


def _quoted(value: str) -> str:
    if "'" in value:
        raise RegistryError(f"'{value}': names with a single quote cannot be looked up")
    return f"'{value}'"


def _entry(run: Run) -> Entry:
    tags = run.data.tags
    values = {name: tags.get(name, "") for name in FIELDS}
    return Entry(
        entry_id=run.info.run_id,
        time=dt.datetime.fromtimestamp(run.info.start_time / 1000, tz=dt.timezone.utc),
        status=run.info.status,
        **{**values, "from_version": values["from_version"] or None},
    )
