"""Training a challenger: fit, log to MLflow, register a version with alias ``challenger``.

The SHA-256 of the registered files is tagged on the version (``model_sha256``) before the
alias moves; every later load refuses files that differ from it. It is computed from a copy of
the files as MLflow saved them for upload, not from a download of what was just uploaded.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_mlops.core import registry
from airflow_mlops.core.errors import ConfigError, DataError
from airflow_mlops.core.estimators import build_model
from airflow_mlops.core.fetch import DIGEST_TAG, downloaded_digest, registered_digest
from airflow_mlops.core.io import short
from airflow_mlops.core.metrics import score
from airflow_mlops.core.serialization import (
    quiet_module_scan,
    runtime_requirements,
    trusted_types_for,
)
from airflow_mlops.core.splits import split
from airflow_mlops.core.tracking import ensure_experiment

if TYPE_CHECKING:
    import pandas as pd
    from mlflow import MlflowClient

MODEL_ARTIFACT = "model"
# What a version's run records so that it can be rebuilt (see core/reproduce.py).
TRAINING_SPEC_TAG, LIBRARIES_TAG = "training_spec", "libraries"
RECORDED_LIBRARIES = ("scikit-learn", "numpy", "pandas", "scipy")


def library_versions() -> dict[str, str]:
    """Python's version and those of the libraries a fit depends on."""
    import platform
    from importlib.metadata import version

    return {"python": platform.python_version(),
            **{name: version(name) for name in RECORDED_LIBRARIES}}


def run_key(lineage: dict[str, str]) -> str:
    """The idempotency key of a training: dag_id + run_id + data fingerprint."""
    parts = (lineage.get("dag_id", ""), lineage.get("run_id", ""), lineage["data_fingerprint"])
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def _flat_params(spec: dict[str, Any], prefix: str = "") -> dict[str, str]:
    params: dict[str, str] = {}
    for name, group in (spec.get("preprocess") or {}).items():
        params[f"{prefix}preprocess.{name}.columns"] = ",".join(group["columns"])
        for index, step in enumerate(group["steps"]):
            params.update(_flat_params(step, f"{prefix}preprocess.{name}.step{index}."))
    if spec.get("steps"):
        for index, step in enumerate(spec["steps"]):
            params.update(_flat_params(step, f"{prefix}step{index}."))
        return params
    params[f"{prefix}estimator"] = spec["class"]
    params.update({f"{prefix}{k}": str(v) for k, v in spec.get("params", {}).items()})
    return params


def estimator_field(spec: dict[str, Any], message: str) -> str:
    """The config field an error from scikit-learn is about: the step whose class it names
    and, of that step, the parameter it quotes; ``estimator`` when it names none."""
    return _field_in(spec, message, "estimator") or "estimator"


def _field_in(spec: dict[str, Any], message: str, field: str) -> str | None:
    for index, step in enumerate(spec.get("steps") or []):
        if found := _field_in(step, message, f"{field}.steps.{index}"):
            return found
    name = str(spec.get("class", "")).rsplit(".", 1)[-1]
    if not name or not re.search(rf"\b{re.escape(name)}\b", message):
        return None
    quoted = [param for param in spec.get("params", {}) if f"'{param}'" in message]
    return f"{field}.params.{quoted[0]}" if quoted else field


@contextmanager
def _sklearn_refusals(estimator: dict[str, Any]) -> Iterator[None]:
    """scikit-learn's ``TypeError``/``ValueError`` as a :class:`ConfigError` naming the field."""
    try:
        yield
    except (TypeError, ValueError) as exc:
        field = estimator_field(estimator, str(exc))
        raise ConfigError(f"field '{field}': scikit-learn refused the model: "
                          f"{type(exc).__name__}: {short(exc)}") from exc


def require_columns(frame: pd.DataFrame, target: str, features: list[str] | None) -> None:
    """The configured target and features are columns of the data.

    :raises DataError: naming the config field and the missing columns.
    """
    columns = list(frame.columns)
    if target not in columns:
        raise DataError(f"field 'target': column {target!r} is not in the data, which has "
                        f"{_short_list(columns)}")
    if missing := [c for c in features or [] if c not in columns]:
        raise DataError(f"field 'features': columns {missing} are not in the data, which has "
                        f"{_short_list(columns)}")


def _short_list(names: list[str], limit: int = 20) -> str:
    """At most ``limit`` names, and how many more."""
    shown = ", ".join(map(repr, names[:limit]))
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return f"[{shown}]{more}"


def _earlier_version(client: MlflowClient, model: str, experiment_id: str, key: str) -> dict | None:
    """The version an earlier attempt with the same key registered; ends its stray runs."""
    runs = client.search_runs(
        [experiment_id], filter_string=f"tags.`{registry.tag('run_key')}` = '{key}'"
    )
    for run in runs:
        versions = client.search_model_versions(f"name='{model}' and run_id='{run.info.run_id}'")
        if versions:
            if run.info.status == "RUNNING":
                client.set_terminated(run.info.run_id, "FINISHED")
            return {"run_id": run.info.run_id, "version": str(versions[0].version),
                    "metrics": dict(run.data.metrics)}
        if run.info.status == "RUNNING":
            client.set_terminated(run.info.run_id, "FAILED")
    return None


def _record_digest(client: MlflowClient, model: str, version: str) -> str:
    """Tag the SHA-256 of an earlier attempt's version on it, once: a re-run keeps the first
    record. Its files are downloaded back the way consumers fetch them (only when the earlier
    attempt stopped before recording it)."""
    recorded = client.get_model_version(model, version).tags.get(registry.tag(DIGEST_TAG))
    if recorded:
        return recorded
    digest = downloaded_digest(model, version)
    registry.set_version_tags(client, model, version, {DIGEST_TAG: digest})
    return digest


class _KeptCopy:
    """``mlflow.sklearn`` as the flavor of :meth:`mlflow.models.Model.log`, keeping a copy of
    the folder it saves (MLflow uploads that folder, then deletes it).

    Its digest is then the one consumers compute on a download (see
    :func:`~airflow_mlops.core.fetch.registered_digest`); were MLflow to change the files
    between saving and uploading them, every load of the version would refuse it.
    """

    __name__ = "mlflow.sklearn"

    def __init__(self, copy: Path) -> None:
        self.copy = copy

    def save_model(self, path: str, mlflow_model: Any, **kwargs: Any) -> None:
        import mlflow.sklearn

        mlflow.sklearn.save_model(path=path, mlflow_model=mlflow_model, **kwargs)
        shutil.copytree(path, self.copy)


def _mark_challenger(client: MlflowClient, model: str, version: str,
                     lineage: dict[str, str]) -> None:
    registry.set_alias(client, model, registry.CHALLENGER, version, action="train",
                       reason="newest trained candidate", lineage=lineage)


def train_challenger(
    frame: pd.DataFrame,
    *,
    model_name: str,
    experiment_name: str,
    target: str,
    features: list[str] | None,
    estimator: dict[str, Any],
    task: str,
    holdout_fraction: float,
    seed: int,
    lineage: dict[str, str],
    artifact_location: str | None = None,
    run_name: str | None = None,
) -> dict:
    """Fit the configured model on the training split and register it as ``challenger``.

    ``lineage`` holds dag_id, run_id, data_uri and data_fingerprint; a second call with the
    same dag_id, run_id and fingerprint reuses the version the first one registered (and
    records its digest if the first call stopped before it could).
    A new experiment keeps its artifacts at ``artifact_location``. The run is ``run_name``;
    the registered model and the version get descriptions that say what made them (with a
    link to the DAG run when ``lineage`` has ``dag_run_url``).
    """
    import mlflow
    from mlflow.models import Model, infer_signature

    client = mlflow.MlflowClient()
    registry.ensure_registered_model(client, model_name,
                                     description=registry.model_description(lineage))
    experiment_id = ensure_experiment(experiment_name, artifact_location)
    key = run_key(lineage)
    earlier = _earlier_version(client, model_name, experiment_id, key)
    if earlier:
        digest = _record_digest(client, model_name, earlier["version"])
        registry.describe_version(client, model_name, earlier["version"], lineage)
        _mark_challenger(client, model_name, earlier["version"], lineage)
        return {**earlier, "experiment_id": experiment_id, "digest": digest, "reused": True}

    require_columns(frame, target, features)
    parts = split(frame, target=target, features=features, holdout_fraction=holdout_fraction,
                  seed=seed, task=task)
    with _sklearn_refusals(estimator):
        model = build_model(estimator, parts.train_features)
    spec = {"target": target, "features": list(parts.train_features.columns), "task": task,
            "estimator": estimator, "holdout_fraction": holdout_fraction, "seed": seed}
    tags = {registry.tag(k): v for k, v in lineage.items()} | {
        registry.tag("run_key"): key,
        registry.tag(TRAINING_SPEC_TAG): json.dumps(spec),
        registry.tag(LIBRARIES_TAG): json.dumps(library_versions()),
    }
    with (mlflow.start_run(experiment_id=experiment_id, tags=tags, run_name=run_name) as run,
          tempfile.TemporaryDirectory(prefix="airflow-mlops-train-") as folder):
        with _sklearn_refusals(estimator):
            model.fit(parts.train_features, parts.train_target)
            metrics = score(model, parts.holdout_features, parts.holdout_target, task)
        mlflow.log_params(_flat_params(estimator) | {
            "holdout_fraction": holdout_fraction, "seed": seed,
            "rows_train": len(parts.train_target),
        })
        signature = infer_signature(parts.train_features, model.predict(parts.train_features))
        trusted = trusted_types_for(model)
        saved = _KeptCopy(Path(folder) / MODEL_ARTIFACT)
        with quiet_module_scan():
            info = Model.log(
                artifact_path=None, name=MODEL_ARTIFACT, flavor=saved, sk_model=model,
                signature=signature,
                input_example=parts.train_features.head(3), serialization_format="skops",
                skops_trusted_types=trusted, pip_requirements=runtime_requirements(),
            )
        # Logged after the model, with its id: the run's metrics and the model's in one
        # request (logged before, MLflow reads each metric's history back to link them).
        mlflow.log_metrics(metrics, model_id=info.model_id)
        version = str(mlflow.register_model(
            info.model_uri, model_name, tags={registry.tag(k): v for k, v in lineage.items()}
        ).version)
        digest = registered_digest(saved.copy, model_name, version)
    registry.set_version_tags(client, model_name, version, {DIGEST_TAG: digest})
    registry.describe_version(client, model_name, version, lineage)
    _mark_challenger(client, model_name, version, lineage)
    return {"run_id": run.info.run_id, "experiment_id": experiment_id, "version": version,
            "metrics": metrics, "digest": digest, "reused": False}
