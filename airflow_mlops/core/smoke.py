"""The smoke check: a candidate loads and predicts as a consumer would, before any alias moves."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_mlops.core import registry
from airflow_mlops.core.contained import ChildFailed, ChildRaised, call_contained, report_stage
from airflow_mlops.core.errors import RegistryError
from airflow_mlops.core.fetch import (
    DIGEST_TAG,
    SMOKE_TAG,
    FetchedModel,
    fetch_version,
    load_pyfunc,
    require_version,
    schema_reason,
    smoke_record,
)
from airflow_mlops.core.io import short

if TYPE_CHECKING:
    import pandas as pd
    from mlflow import MlflowClient

DEFAULT_SAMPLE_ROWS = 100
DEFAULT_TIME_LIMIT = 300.0


class SmokeCheckError(RegistryError):
    """A model version cannot be loaded, or cannot predict on a sample of real data."""


def _predict(fetched: FetchedModel, sample: pd.DataFrame, sample_name: str) -> dict[str, Any]:
    import pandas as pd
    from mlflow.exceptions import MlflowException
    from mlflow.models import validate_schema

    signature = fetched.signature
    if signature is None:
        raise SmokeCheckError(
            f"{fetched.label}: has no signature, so consumers cannot check their input"
        )
    if signature.inputs.has_input_names():
        required = [spec.name for spec in signature.inputs.inputs if spec.required]
        missing = [name for name in required if name not in sample.columns]
        if missing:
            raise SmokeCheckError(
                f"{fetched.label}: its signature needs column(s) {', '.join(missing)}, "
                f"which {sample_name} does not have"
            )
        sample = sample[[n for n in signature.inputs.input_names() if n in sample.columns]]
    report_stage("loading it")
    model = load_pyfunc(fetched)
    report_stage(f"predicting on {len(sample)} rows of {sample_name}")
    try:
        predictions = model.predict(sample)
    except MlflowException as exc:
        raise SmokeCheckError(
            f"{fetched.label}: {sample_name} does not match its signature: {schema_reason(exc)}"
        ) from None
    except Exception as exc:  # the model's own code failed; any type is possible
        raise SmokeCheckError(
            f"{fetched.label}: predict failed on {len(sample)} rows of {sample_name} "
            f"(columns given: {', '.join(map(str, sample.columns))}): {short(exc)}"
        ) from None
    report_stage("checking its predictions")
    if len(predictions) != len(sample):
        raise SmokeCheckError(
            f"{fetched.label}: returned {len(predictions)} predictions for {len(sample)} rows"
        )
    missing_values = int(pd.DataFrame(predictions).isna().to_numpy().sum())
    if missing_values:
        raise SmokeCheckError(
            f"{fetched.label}: returned {missing_values} missing predictions on {sample_name}"
        )
    if signature.outputs is not None:
        try:
            validate_schema(predictions, signature.outputs)
        except MlflowException as exc:
            raise SmokeCheckError(
                f"{fetched.label}: predictions do not match its output signature: "
                f"{schema_reason(exc)}"
            ) from None
    return {"rows": len(sample), "columns": list(sample.columns)}


def _predict_or_refuse(fetched: FetchedModel, sample: pd.DataFrame, sample_name: str) -> dict:
    """:func:`_predict`, run in the child process; a refusal is returned as its message."""
    try:
        return _predict(fetched, sample, sample_name)
    except RegistryError as exc:
        return {"error": str(exc)}


def _predict_contained(fetched: FetchedModel, sample: pd.DataFrame, sample_name: str,
                       time_limit: float) -> dict[str, Any]:
    """:func:`_predict` in a child process: a crash or a hang of the model fails the check."""
    try:
        outcome = call_contained(_predict_or_refuse, fetched, sample, sample_name,
                                 time_limit=time_limit, stage="loading it")
    except ChildFailed as exc:
        raise SmokeCheckError(f"{fetched.label}: the model {exc}") from None
    except ChildRaised as exc:  # not the model's verdict: our own code failed in the child
        raise RuntimeError(f"{fetched.label}: the smoke check failed in its child process:\n"
                           f"{exc}") from None
    if "error" in outcome:
        raise SmokeCheckError(outcome["error"])
    return outcome


def smoke_check(
    frame: pd.DataFrame,
    *,
    model_name: str,
    version: str,
    sample_name: str,
    lineage: dict[str, str],
    sample_rows: int = DEFAULT_SAMPLE_ROWS,
    time_limit: float = DEFAULT_TIME_LIMIT,
) -> dict:
    """Load ``version`` as a consumer would and predict on the first ``sample_rows`` rows.

    The version is downloaded and checked against the serialization allow-list here, then
    loaded with ``mlflow.pyfunc`` and asked to predict in a child process, which has
    ``time_limit`` seconds for both: a model that crashes its process or never answers fails
    the check, and this process carries on. The sample must have the signature's columns
    and types, and predictions must be complete and match the output signature. The
    outcome, with the SHA-256 of the files that passed, is tagged on the version
    (``smoke_check``); deployment steps later refuse files that differ from them.

    :raises SmokeCheckError: the version cannot load or predict in time, or has no signature.
    """
    import mlflow

    client = mlflow.MlflowClient()
    version = str(version)
    require_version(client, model_name, version)
    record = {"sample": sample_name, "checked_by": f"{lineage['dag_id']}/{lineage['run_id']}"}
    try:
        with tempfile.TemporaryDirectory(prefix="airflow-mlops-smoke-") as folder:
            fetched = fetch_version(client, model_name, version, Path(folder))
            outcome = _predict_contained(fetched, frame.head(sample_rows), sample_name,
                                         time_limit)
    except RegistryError as exc:
        registry.set_version_tags(client, model_name, version, {
            SMOKE_TAG: {**record, "passed": False, "error": str(exc)},
        })
        raise SmokeCheckError(str(exc)) from None
    record = {**record, "passed": True, "digest": fetched.digest, "rows": outcome["rows"]}
    registry.set_version_tags(client, model_name, version, {SMOKE_TAG: record})
    return {"model": model_name, "version": version, **record, "columns": outcome["columns"]}


def require_smoke_passed(client: MlflowClient, model: str, version: str) -> None:
    """Refuse a version unless its smoke check passed on the files training recorded.

    :raises SmokeCheckError: the check never ran, failed, or passed on other files than
        those whose SHA-256 is recorded now.
    """
    label = f"model '{model}' v{version}"
    record = smoke_record(client, model, version)
    if record is None:
        raise SmokeCheckError(f"{label} was never smoke-checked; it cannot be promoted")
    if not record.get("passed"):
        raise SmokeCheckError(
            f"{label} failed its smoke check ({record.get('error')}); it cannot be promoted"
        )
    recorded = client.get_model_version(model, version).tags.get(registry.tag(DIGEST_TAG))
    if record.get("digest") != recorded:
        raise SmokeCheckError(
            f"{label}: its smoke check passed on files with sha256 "
            f"{str(record.get('digest'))[:12]}..., not those recorded now "
            f"({str(recorded)[:12]}...); it cannot be promoted until a smoke check passes on them"
        )
