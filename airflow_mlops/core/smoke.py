"""The smoke check: a candidate loads and predicts as a consumer would, before any alias moves."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_mlops.core import registry
from airflow_mlops.core.errors import RegistryError
from airflow_mlops.core.fetch import (
    SMOKE_TAG,
    FetchedModel,
    fetch_version,
    load_pyfunc,
    require_version,
    schema_reason,
)
from airflow_mlops.core.io import short

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_SAMPLE_ROWS = 100


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
    model = load_pyfunc(fetched)
    try:
        predictions = model.predict(sample)
    except MlflowException as exc:
        raise SmokeCheckError(
            f"{fetched.label}: {sample_name} does not match its signature: {schema_reason(exc)}"
        ) from None
    except Exception as exc:  # the model's own code failed; any type is possible
        raise SmokeCheckError(
            f"{fetched.label}: predict failed on {len(sample)} rows of {sample_name}: "
            f"{short(exc)}"
        ) from None
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


def smoke_check(
    frame: pd.DataFrame,
    *,
    model_name: str,
    version: str,
    sample_name: str,
    lineage: dict[str, str],
    sample_rows: int = DEFAULT_SAMPLE_ROWS,
) -> dict:
    """Load ``version`` as a consumer would and predict on the first ``sample_rows`` rows.

    The version is downloaded, checked against the serialization allow-list, loaded with
    ``mlflow.pyfunc`` and asked to predict; the sample must have the signature's columns
    and types, and predictions must be complete and match the output signature. The
    outcome, with the SHA-256 of the files that passed, is tagged on the version
    (``smoke_check``); deployment steps later refuse files that differ from them.

    :raises SmokeCheckError: the version cannot load or predict, or has no signature.
    """
    import mlflow

    client = mlflow.MlflowClient()
    version = str(version)
    require_version(client, model_name, version)
    record = {"sample": sample_name, "checked_by": f"{lineage['dag_id']}/{lineage['run_id']}"}
    try:
        with tempfile.TemporaryDirectory(prefix="airflow-mlops-smoke-") as folder:
            fetched = fetch_version(client, model_name, version, Path(folder))
            outcome = _predict(fetched, frame.head(sample_rows), sample_name)
    except RegistryError as exc:
        registry.set_version_tags(client, model_name, version, {
            SMOKE_TAG: {**record, "passed": False, "error": str(exc)},
        })
        raise SmokeCheckError(str(exc)) from None
    record = {**record, "passed": True, "digest": fetched.digest, "rows": outcome["rows"]}
    registry.set_version_tags(client, model_name, version, {SMOKE_TAG: record})
    return {"model": model_name, "version": version, **record, "columns": outcome["columns"]}
