"""Batch scoring: one model version predicts on a data set; predictions go to another file."""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_mlops.core.errors import DataError
from airflow_mlops.core.fetch import (
    fetch_version,
    load_pyfunc,
    schema_reason,
    verify_smoke_checked,
)
from airflow_mlops.core.io import StoragePath, as_path, data_format, read_table, short
from airflow_mlops.core.paths import refuse_traversal

if TYPE_CHECKING:
    import datetime as dt

    import pandas as pd
    from mlflow import MlflowClient
    from mlflow.pyfunc import PyFuncModel

Location = str | os.PathLike[str] | StoragePath


def _location_key(path: StoragePath) -> str:
    return str(path.resolve()) if isinstance(path, Path) else str(path).rstrip("/")


def _probabilities(model: PyFuncModel, features: pd.DataFrame) -> dict[str, Any]:
    """``probability`` (of the second class) for binary classifiers, one column per class
    (``probability_<class>``) for multi-class ones, nothing for regressors."""
    raw = model.get_raw_model()
    if not hasattr(raw, "predict_proba"):
        return {}
    proba = raw.predict_proba(features)
    classes = list(raw.classes_)
    if len(classes) == 2:
        return {"probability": proba[:, 1]}
    return {f"probability_{label}": proba[:, i] for i, label in enumerate(classes)}


def predictions_frame(
    model: PyFuncModel,
    frame: pd.DataFrame,
    *,
    key_columns: list[str],
    model_name: str,
    version: str,
    scored_at: dt.datetime,
    data_name: str,
) -> pd.DataFrame:
    """Key columns, ``prediction``, probabilities when the model has them, and provenance.

    :raises DataError: a key column is missing, or the data does not match the signature.
    """
    import numpy as np
    import pandas as pd
    from mlflow.exceptions import MlflowException

    missing = [c for c in key_columns if c not in frame.columns]
    if missing:
        raise DataError(f"{data_name}: key column(s) {', '.join(missing)} not found")
    signature = model.metadata.get_input_schema()
    features = frame
    if signature is not None and signature.has_input_names():
        features = frame[[n for n in signature.input_names() if n in frame.columns]]
    try:
        predictions = model.predict(features)
    except MlflowException as exc:
        raise DataError(
            f"{data_name}: does not match the signature of model '{model_name}' v{version}: "
            f"{schema_reason(exc)}"
        ) from None
    out = frame[key_columns].reset_index(drop=True)
    out["prediction"] = np.asarray(predictions)
    for column, values in _probabilities(model, features).items():
        out[column] = values
    out["model_name"] = model_name
    out["model_version"] = str(version)
    out["scored_at"] = pd.Timestamp(scored_at)
    return out


def write_table(frame: pd.DataFrame, location: Location) -> str:
    """Write CSV or Parquet (by suffix) through a temporary sibling, then rename it in place.

    A reader never sees half a file; a re-run replaces the earlier output whole.
    """
    path = as_path(location)
    kind = data_format(path, str(location))
    partial = path.parent / f".{path.name}.{uuid.uuid4().hex}.partial"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with partial.open("wb") as handle:
            if kind == "csv":
                frame.to_csv(handle, index=False)
            else:
                frame.to_parquet(handle, index=False)
        partial.rename(path)
    except (OSError, ValueError) as exc:
        raise DataError(f"{location}: cannot be written: {short(exc)}") from None
    return str(path)


def score_batch(
    client: MlflowClient,
    *,
    model_name: str,
    version: str,
    data: Location,
    output: Location,
    key_columns: list[str],
    scored_at: dt.datetime,
) -> dict:
    """Score ``data`` with ``models:/model_name/version`` and write the predictions to ``output``.

    The version is fetched and checked like any deployment (allow-list; the files the smoke
    check passed, when it ran). ``data`` is only read; ``output`` must be another file.

    :raises PathEscapeError: ``output`` holds a ``..`` segment (plain or URL-encoded), so
        a rendered value would lead the predictions out of the folder it names.
    :raises DataError: output would replace the input, key columns are missing, or the data
        does not match the model's signature.
    :raises RegistryError: the version cannot be fetched, failed its smoke check or changed.
    """
    refuse_traversal(str(output), what="scoring output")
    data_path, output_path = as_path(data), as_path(output)
    if _location_key(data_path) == _location_key(output_path):
        raise DataError(f"{output}: is the input data set itself; refusing to overwrite it")
    data_format(output_path, str(output))
    frame = read_table(data_path, name=str(data))
    with tempfile.TemporaryDirectory(prefix="airflow-mlops-score-") as folder:
        fetched = fetch_version(client, model_name, str(version), Path(folder))
        smoke_checked = verify_smoke_checked(client, fetched)
        model = load_pyfunc(fetched)
        predictions = predictions_frame(
            model, frame, key_columns=list(key_columns), model_name=model_name,
            version=fetched.version, scored_at=scored_at, data_name=str(data),
        )
    written = write_table(predictions, output_path)
    return {"model": model_name, "version": fetched.version, "rows": len(predictions),
            "output_uri": written, "columns": list(predictions.columns),
            "smoke_checked": smoke_checked}
