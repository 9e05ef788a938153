"""The model registry contract: champion, challenger and previous_champion aliases."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from airflow_mlops.core.errors import ChampionChangedError, RegistryError

if TYPE_CHECKING:
    from mlflow import MlflowClient

CHAMPION = "champion"
CHALLENGER = "challenger"
PREVIOUS_CHAMPION = "previous_champion"
TAG_PREFIX = "airflow_mlops."


def tag(name: str) -> str:
    """The namespaced tag key for ``name``."""
    return TAG_PREFIX + name


def alias_version(client: MlflowClient, model: str, alias: str) -> str | None:
    """The version ``alias`` points at, or None when it is unset or the model is new."""
    from mlflow.exceptions import MlflowException

    try:
        return str(client.get_model_version_by_alias(model, alias).version)
    except MlflowException:
        return None


def set_version_tags(client: MlflowClient, model: str, version: str, tags: dict) -> None:
    """Write tags on a model version; non-string values are stored as JSON."""
    for key, value in tags.items():
        text = value if isinstance(value, str) else json.dumps(value)
        client.set_model_version_tag(model, version, tag(key), text)


def promote(
    client: MlflowClient, model: str, version: str, *, expected_champion: str | None
) -> dict:
    """Move ``champion`` to ``version`` only if it still points at ``expected_champion``.

    Writes go previous_champion first, champion last, so a crash at any point leaves a
    state that a re-run completes; a re-run after success changes nothing.
    """
    current = alias_version(client, model, CHAMPION)
    if current == version:
        return {"model": model, "champion": version, "previous_champion": expected_champion,
                "moved": False}
    if current != expected_champion:
        raise ChampionChangedError(
            f"model '{model}': champion is version {current}, but the evaluation compared "
            f"against {expected_champion}; nothing was moved, re-evaluate first"
        )
    if expected_champion is not None:
        client.set_registered_model_alias(model, PREVIOUS_CHAMPION, expected_champion)
    client.set_registered_model_alias(model, CHAMPION, version)
    after = alias_version(client, model, CHAMPION)
    if after != version:
        raise ChampionChangedError(
            f"model '{model}': champion is version {after} right after moving it to {version}; "
            "another promoter wrote concurrently"
        )
    return {"model": model, "champion": version, "previous_champion": expected_champion,
            "moved": True}


def ensure_registered_model(client: MlflowClient, model: str) -> None:
    """Create the registered model if it does not exist yet."""
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(model)
    except MlflowException:
        try:
            client.create_registered_model(model)
        except MlflowException as exc:
            if "already exists" not in str(exc).lower():
                raise RegistryError(f"model '{model}': cannot be registered: {exc}") from None
