"""Registered versions' predictions on labelled rows, computed in a child process.

The evaluation and the quality check score versions whose files were written by whoever can
write to the registry. Each version is downloaded and checked here (the allow-list, the hash
training recorded, its smoke check once it ran); the checked files are then loaded and asked
to predict in one child process (:func:`airflow_mlops.core.contained.call_contained`), so a
model that crashes or hangs its process fails this call and never the worker.

The child sends back only numbers: predictions as NumPy files written without pickle
(classifier labels as codes into a JSON list), read here with ``allow_pickle=False`` and
checked for shape before any metric sees them.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_mlops.core.contained import ChildFailed, ChildRaised, call_contained, report_stage
from airflow_mlops.core.errors import RegistryError
from airflow_mlops.core.fetch import FetchedModel, fetch_version, load_sklearn, verify_smoke_checked
from airflow_mlops.core.io import short
from airflow_mlops.core.metrics import Predictions, labelled, outputs_of

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

DEFAULT_TIME_LIMIT = 900.0
# The kinds of label arrays the child may describe, and the type each is rebuilt with here.
LABEL_TYPES = {"b": "bool", "i": "int64", "u": "uint64", "f": "float64", "U": "object",
               "O": "object"}


class VersionUnusable(RegistryError):
    """A version cannot be fetched, loaded or asked to predict.

    ``position`` is its index in the versions asked for.
    """

    def __init__(self, position: int, message: str) -> None:
        super().__init__(message)
        self.position = position


def predict_versions(
    model: str,
    versions: Sequence[str],
    features: pd.DataFrame,
    target: pd.Series,
    task: str,
    *,
    time_limit: float = DEFAULT_TIME_LIMIT,
) -> list[Predictions]:
    """Each version's predictions on ``features`` (true values in ``target``), in order.

    All versions are fetched and checked first, then loaded and run one after the other in
    one child process, which has ``time_limit`` seconds for all of them.

    :raises VersionUnusable: the first version that cannot be fetched, loaded or predict, or
        that crashed or hung the child.
    :raises MlflowException: the tracking server failed while fetching (an outage, not a
        verdict on the model).
    """
    import mlflow

    client = mlflow.MlflowClient()
    with tempfile.TemporaryDirectory(prefix="airflow-mlops-predict-") as folder:
        fetched = []
        for position, version in enumerate(versions):
            try:
                fetched.append(fetch_version(client, model, str(version),
                                             Path(folder) / str(position)))
                verify_smoke_checked(client, fetched[-1])
            except RegistryError as exc:
                raise VersionUnusable(position, str(exc)) from None
        outputs = Path(folder) / "outputs"
        outputs.mkdir()
        answers = _run_contained(fetched, features, task, outputs, time_limit)
        return [_read(position, fetched[position].label, answer, outputs, target, task)
                for position, answer in enumerate(answers)]


def _stages(model: FetchedModel, rows: int) -> tuple[str, str]:
    """What the child reports while it loads ``model``, then while it predicts with it."""
    return f"loading {model.label}", f"predicting with {model.label} on {rows} rows"


def _run_contained(fetched: list[FetchedModel], features: pd.DataFrame, task: str,
                   outputs: Path, time_limit: float) -> list[dict]:
    positions = {stage: position for position, model in enumerate(fetched)
                 for stage in _stages(model, len(features))}
    try:
        answers = call_contained(_write_outputs, fetched, features, task, str(outputs),
                                 time_limit=time_limit,
                                 stage=_stages(fetched[0], len(features))[0])
    except ChildFailed as exc:
        position = positions.get(exc.stage, 0)
        raise VersionUnusable(position, f"{fetched[position].label}: the model {exc}") from None
    except ChildRaised as exc:  # not the model's verdict: our own code failed in the child
        raise RuntimeError(f"predicting with {', '.join(m.label for m in fetched)} failed in "
                           f"the child process:\n{exc}") from None
    for position, answer in enumerate(answers):
        if "error" in answer:
            raise VersionUnusable(position, answer["error"])
    return answers


def _write_outputs(fetched: list[FetchedModel], features: pd.DataFrame, task: str,
                   folder: str) -> list[dict]:
    """In the child: load and run each version in turn, until one fails."""
    answers: list[dict[str, Any]] = []
    for position, model in enumerate(fetched):
        try:
            answers.append(_outputs(position, model, features, task, Path(folder)))
        except RegistryError as exc:
            return [*answers, {"error": str(exc)}]
    return answers


def _outputs(position: int, model: FetchedModel, features: pd.DataFrame, task: str,
             folder: Path) -> dict[str, Any]:
    import numpy as np

    loading, predicting = _stages(model, len(features))
    report_stage(loading)
    estimator = load_sklearn(model)
    report_stage(predicting)
    try:
        predicted, proba, classes = outputs_of(estimator, features, task)
    except Exception as exc:  # the model's own code failed; any type is possible
        raise RegistryError(f"{model.label}: cannot predict on {len(features)} rows: "
                            f"{short(exc)}") from None
    answer: dict[str, Any] = {"classes": None if classes is None else np.asarray(classes).tolist()}
    if task == "regression":
        np.save(folder / f"{position}-values.npy", predicted.astype(float), allow_pickle=False)
        return answer
    try:
        labels, codes = np.unique(predicted, return_inverse=True)
    except TypeError as exc:  # labels of types that cannot be ordered together
        raise RegistryError(f"{model.label}: predicted labels of mixed types: {exc}") from None
    np.save(folder / f"{position}-codes.npy", codes.reshape(-1), allow_pickle=False)
    if proba is not None:
        np.save(folder / f"{position}-proba.npy", proba, allow_pickle=False)
    return {**answer, "labels": labels.tolist(), "kind": labels.dtype.kind}


def _read(position: int, label: str, answer: dict, folder: Path, target: pd.Series,
          task: str) -> Predictions:
    """The child's files for one version, checked against the rows asked for."""
    import numpy as np

    rows = len(target)

    def load(name: str, shape: tuple[int, ...]) -> np.ndarray:
        try:
            array = np.load(folder / f"{position}-{name}.npy", allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise VersionUnusable(position, f"{label}: its {name} cannot be read: {exc}") from None
        if array.shape != shape:
            raise VersionUnusable(position, f"{label}: returned {name} of shape {array.shape} "
                                  f"for {rows} rows")
        return array

    if task == "regression":
        return labelled(task, target, load("values", (rows,)).astype(float))
    labels = answer.get("labels") or []
    kind = answer.get("kind")
    if kind not in LABEL_TYPES:
        raise VersionUnusable(position, f"{label}: returned labels of kind {kind!r}")
    codes = load("codes", (rows,))
    if codes.dtype.kind not in "iu" or (rows and not 0 <= codes.min() <= codes.max() < len(labels)):
        raise VersionUnusable(position, f"{label}: returned label codes outside its labels")
    values = np.array(labels, dtype=LABEL_TYPES[kind])
    if values.shape != (len(labels),):
        raise VersionUnusable(position, f"{label}: returned labels that are not plain values")
    classes = answer.get("classes")
    proba = None if classes is None else load("proba", (rows, len(classes))).astype(float)
    return labelled(task, target, values[codes], proba, None if classes is None else tuple(classes))
