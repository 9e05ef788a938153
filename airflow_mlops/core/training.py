"""Training a challenger: fit, log to MLflow, register a version with alias ``challenger``.

The SHA-256 of the registered files is tagged on the version (``model_sha256``) before the
alias moves; every later load refuses files that differ from it.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from airflow_mlops.core import registry
from airflow_mlops.core.estimators import build_model
from airflow_mlops.core.fetch import DIGEST_TAG, downloaded_digest
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
    """Tag the SHA-256 of the version's files on it, once: a re-run keeps the first record.

    The files are downloaded back the way consumers fetch them, so both hash the same bytes.
    """
    recorded = client.get_model_version(model, version).tags.get(registry.tag(DIGEST_TAG))
    if recorded:
        return recorded
    digest = downloaded_digest(model, version)
    registry.set_version_tags(client, model, version, {DIGEST_TAG: digest})
    return digest


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
) -> dict:
    """Fit the configured model on the training split and register it as ``challenger``.

    ``lineage`` holds dag_id, run_id, data_uri and data_fingerprint; a second call with the
    same dag_id, run_id and fingerprint reuses the version the first one registered (and
    records its digest if the first call stopped before it could).
    A new experiment keeps its artifacts at ``artifact_location``.
    """
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature

    client = mlflow.MlflowClient()
    registry.ensure_registered_model(client, model_name)
    experiment_id = ensure_experiment(experiment_name, artifact_location)
    key = run_key(lineage)
    earlier = _earlier_version(client, model_name, experiment_id, key)
    if earlier:
        digest = _record_digest(client, model_name, earlier["version"])
        _mark_challenger(client, model_name, earlier["version"], lineage)
        return {**earlier, "digest": digest, "reused": True}

    parts = split(frame, target=target, features=features, holdout_fraction=holdout_fraction,
                  seed=seed, task=task)
    model = build_model(estimator, parts.train_features)
    tags = {registry.tag(k): v for k, v in lineage.items()} | {registry.tag("run_key"): key}
    with mlflow.start_run(experiment_id=experiment_id, tags=tags) as run:
        model.fit(parts.train_features, parts.train_target)
        metrics = score(model, parts.holdout_features, parts.holdout_target, task)
        mlflow.log_params(_flat_params(estimator) | {
            "holdout_fraction": holdout_fraction, "seed": seed,
            "rows_train": len(parts.train_target),
        })
        mlflow.log_metrics(metrics)
        signature = infer_signature(parts.train_features, model.predict(parts.train_features))
        trusted = trusted_types_for(model)
        with quiet_module_scan():
            info = mlflow.sklearn.log_model(
                model, name=MODEL_ARTIFACT, signature=signature,
                input_example=parts.train_features.head(3), serialization_format="skops",
                skops_trusted_types=trusted, pip_requirements=runtime_requirements(),
            )
        version = mlflow.register_model(
            info.model_uri, model_name, tags={registry.tag(k): v for k, v in lineage.items()}
        ).version
    version = str(version)
    digest = _record_digest(client, model_name, version)
    _mark_challenger(client, model_name, version, lineage)
    return {"run_id": run.info.run_id, "version": version, "metrics": metrics, "digest": digest,
            "reused": False}
