"""The model registry contract: champion, challenger and previous_champion aliases."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from airflow_mlops.core import ledger
from airflow_mlops.core.errors import ChampionChangedError, RegistryError

if TYPE_CHECKING:
    from mlflow import MlflowClient

CHAMPION = "champion"
CHALLENGER = "challenger"
PREVIOUS_CHAMPION = "previous_champion"
PROMOTE, ROLLBACK = "promote", "rollback"
# A version's ``status`` tag after champion moves away from it: what happened, while the
# aliases say where it stands (a replaced champion may still be previous_champion).
REPLACED, ROLLED_BACK = "replaced", "rolled_back"
TAG_PREFIX = "airflow_mlops."
# What registries answer for an unset alias or an unknown model (MLflow uses the first two).
NOT_FOUND_CODES = frozenset({"INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"})


def tag(name: str) -> str:
    """The namespaced tag key for ``name``."""
    return TAG_PREFIX + name


def alias_version(client: MlflowClient, model: str, alias: str) -> str | None:
    """The version ``alias`` points at, or None when it is unset or the model is new.

    Any other failure (network, permissions) propagates: reading "no champion" by mistake
    would let a promotion skip the compare-and-set.
    """
    from mlflow.exceptions import MlflowException

    try:
        return str(client.get_model_version_by_alias(model, alias).version)
    except MlflowException as exc:
        if exc.error_code in NOT_FOUND_CODES:
            return None
        raise


def set_version_tags(client: MlflowClient, model: str, version: str, tags: dict) -> None:
    """Write tags on a model version; non-string values are stored as JSON.

    ``MlflowClient.set_model_version_tag`` reads the registered model before each tag to
    refuse a prompt (one ``registered-models/get`` per tag); the same check is made once
    here, and the tags are written through the client's registry client.
    """
    client._raise_if_prompt(model)
    writer = client._get_registry_client()
    for key, value in tags.items():
        text = value if isinstance(value, str) else json.dumps(value)
        writer.set_model_version_tag(model, str(version), tag(key), text)


def set_alias(
    client: MlflowClient,
    model: str,
    alias: str,
    version: str,
    *,
    action: str,
    reason: str = "",
    lineage: dict[str, str] | None = None,
) -> bool:
    """Point ``alias`` at ``version`` and record the move in the ledger.

    Returns False when there was nothing to move: the alias already pointed there, or this
    DAG run (``lineage``'s dag_id and run_id) already moved it.
    """
    version, lineage = str(version), lineage or {}
    entry = _own_entry(client, model, alias, action, lineage)
    if entry is not None and entry.done:
        return False
    if entry is None:
        current = alias_version(client, model, alias)
        if current == version:
            return False
        entry = ledger.begin(client, model=model, alias=alias, from_version=current,
                             to_version=version, action=action, reason=reason, lineage=lineage)
    client.set_registered_model_alias(model, alias, version)
    ledger.finish(client, entry)
    return True


def promote(
    client: MlflowClient,
    model: str,
    version: str,
    *,
    expected_champion: str | None,
    reason: str = "",
    lineage: dict[str, str] | None = None,
) -> dict:
    """Move ``champion`` to ``version`` only if it still points at ``expected_champion``.

    The old champion becomes ``previous_champion``. The move is written to the ledger first
    (in progress), then previous_champion, then champion, then the versions' ``status`` tags
    (``champion``; ``replaced`` on the old one), then the entry is completed: a re-run of the
    same DAG run completes an interrupted move, and does nothing after a completed one, even
    when later runs have moved the champion since.
    """
    version = str(version)
    expected = None if expected_champion is None else str(expected_champion)
    lineage = lineage or {}
    result = {"model": model, "champion": version, "previous_champion": expected,
              "moved": False}
    entry = _own_entry(client, model, CHAMPION, PROMOTE, lineage)
    if entry is not None and entry.done:
        return {**result, "previous_champion": entry.from_version}
    current = alias_version(client, model, CHAMPION)
    if entry is None:
        if current == version:
            return result
        if current != expected:
            raise ChampionChangedError(
                f"model '{model}': champion is version {current}, but the evaluation compared "
                f"against {expected}; nothing was moved, re-evaluate first"
            )
        entry = ledger.begin(client, model=model, alias=CHAMPION, from_version=expected,
                             to_version=version, action=PROMOTE, reason=reason, lineage=lineage)
    else:
        _abandon_if_overtaken(client, model, entry, current, "promotion")
    _complete(client, entry, replaced={"status": REPLACED})
    return {**result, "previous_champion": entry.from_version, "moved": True}


def _abandon_if_overtaken(client: MlflowClient, model: str, entry, current: str | None,
                          action: str) -> None:
    """Abandon an interrupted move when the champion has since gone elsewhere."""
    if current in (entry.from_version, entry.to_version):
        return
    ledger.finish(client, entry, ledger.ABANDONED)
    raise ChampionChangedError(
        f"model '{model}': champion is version {current}; the interrupted {action} from "
        f"{entry.from_version} to {entry.to_version} was abandoned; champion left as it is"
    )


def rollback(
    client: MlflowClient,
    model: str,
    *,
    lineage: dict[str, str],
    reason: str = "",
    expected_champion: str | None = None,
) -> dict:
    """Point ``champion`` back at ``previous_champion``, which takes the rolled-back version.

    Their ``status`` tags become ``champion`` and ``rolled_back``. With
    ``expected_champion``, only if the champion is still that version. Recorded in the ledger
    like a promotion; a re-run of the same DAG run (``lineage``) does not roll back twice.
    Rolling back again undoes the rollback.
    """
    entry = _own_entry(client, model, CHAMPION, ROLLBACK, lineage)
    if entry is not None and entry.done:
        return {"model": model, "champion": entry.to_version,
                "previous_champion": entry.from_version, "moved": False}
    current = alias_version(client, model, CHAMPION)
    if entry is None:
        target = alias_version(client, model, PREVIOUS_CHAMPION)
        if current is None:
            raise RegistryError(f"model '{model}' has no champion: nothing to roll back")
        if expected_champion is not None and current != str(expected_champion):
            raise ChampionChangedError(
                f"model '{model}': champion is version {current}, not {expected_champion}; "
                "nothing was rolled back"
            )
        if target is None or target == current:
            raise RegistryError(
                f"model '{model}': no previous_champion other than champion v{current} to roll "
                "back to"
            )
        entry = ledger.begin(client, model=model, alias=CHAMPION, from_version=current,
                             to_version=target, action=ROLLBACK, reason=reason, lineage=lineage)
    else:
        _abandon_if_overtaken(client, model, entry, current, "rollback")
    _complete(client, entry, replaced={
        "status": ROLLED_BACK,
        "rolled_back_by": f"{lineage.get('dag_id')}/{lineage.get('run_id')}",
    })
    return {"model": model, "champion": entry.to_version,
            "previous_champion": entry.from_version, "moved": True}


def _own_entry(client: MlflowClient, model: str, alias: str, action: str,
               lineage: dict[str, str]) -> ledger.Entry | None:
    """The ledger entry of this DAG run's move; None without a DAG run to key it on."""
    if not lineage.get("run_id"):
        return None
    return ledger.find(client, model, ledger.entry_key(model, alias, action, lineage))


def _complete(client: MlflowClient, entry: ledger.Entry, *, replaced: dict) -> None:
    """Carry out a champion move the ledger records: previous_champion, then champion, then
    the ``status`` tags (``replaced`` on the version champion left), then the entry.

    Each write sets a final value, so a re-run after any prefix of them completes the move.
    """
    model = entry.model
    if entry.from_version is not None:
        client.set_registered_model_alias(model, PREVIOUS_CHAMPION, entry.from_version)
    client.set_registered_model_alias(model, CHAMPION, entry.to_version)
    after = alias_version(client, model, CHAMPION)
    if after != entry.to_version:
        ledger.finish(client, entry, ledger.ABANDONED)
        raise ChampionChangedError(
            f"model '{model}': champion is version {after} right after moving it to "
            f"{entry.to_version}; another promoter wrote concurrently"
        )
    if entry.from_version is not None:
        set_version_tags(client, model, entry.from_version, replaced)
    set_version_tags(client, model, entry.to_version, {"status": CHAMPION})
    ledger.finish(client, entry)


def model_description(lineage: dict[str, str]) -> str:
    """What a registered model the retrain loop created is, and which DAG trains it."""
    dag = f"`{lineage.get('dag_id', '')}`"
    url = lineage.get("dag_run_url")
    if url:
        dag = f"[{dag}]({url.rsplit('/runs/', 1)[0]})"
    return (f"Retrained, evaluated and promoted by the Airflow DAG {dag} (airflow-mlops). "
            f"Alias `{CHAMPION}` is what production serves, `{CHALLENGER}` the newest "
            f"candidate, `{PREVIOUS_CHAMPION}` the rollback target.")


def version_description(lineage: dict[str, str]) -> str:
    """What made a version: the DAG run (linked when ``lineage`` has ``dag_run_url``) and
    the data it was trained on."""
    run = f"`{lineage.get('dag_id', '')}` / `{lineage.get('run_id', '')}`"
    if lineage.get("dag_run_url"):
        run = f"[{run}]({lineage['dag_run_url']})"
    text = f"Trained by the Airflow DAG run {run}"
    if lineage.get("data_uri"):
        text += f" on `{lineage['data_uri']}`"
    if lineage.get("data_fingerprint"):
        text += f" (data fingerprint `{lineage['data_fingerprint']}`)"
    return text + "."


def describe_version(client: MlflowClient, model: str, version: str,
                     lineage: dict[str, str]) -> None:
    """Set the version's description to :func:`version_description` of ``lineage``."""
    client.update_model_version(model, str(version), description=version_description(lineage))


def ensure_registered_model(client: MlflowClient, model: str, *,
                            description: str | None = None) -> None:
    """Create the registered model (with ``description``) if it does not exist yet."""
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(model)
    except MlflowException:
        try:
            client.create_registered_model(model, description=description)
        except MlflowException as exc:
            if "already exists" in str(exc).lower():
                return
            if exc.get_http_status_code() >= 500:  # the server or the way to it: may pass
                raise
            raise RegistryError(f"model '{model}': cannot be registered: {exc}") from None
