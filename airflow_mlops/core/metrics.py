"""Quality metrics of a fitted model on labelled data: overall, on a subset, or resampled.

A model is run once (:func:`predict`); metrics are then computed from its outputs on any set
of rows, and on many resamples of rows at once (one resample per row of an index matrix), so
per-slice values and bootstrap intervals cost no further predictions. Built-in metrics follow
scikit-learn's definitions (binary averaging on the later label when the data has at most two
classes, macro averaging otherwise); a custom metric is a function named by import path.
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_mlops.core.errors import ConfigError
from airflow_mlops.core.imports import MODEL_PREFIXES, import_path

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

CLASSIFICATION = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss")
REGRESSION = ("rmse", "mae", "r2")
TASK_METRICS = {"classification": CLASSIFICATION, "regression": REGRESSION}
LOWER_IS_BETTER = frozenset({"log_loss", "rmse", "mae"})
PROBABILITY_METRICS = frozenset({"roc_auc", "log_loss"})


def greater_is_better(metric: str) -> bool:
    """Whether a higher value of a built-in ``metric`` means a better model."""
    return metric not in LOWER_IS_BETTER


@dataclass(frozen=True)
class CustomMetric:
    """A metric function named by import path (``package.module.function``).

    It is called as ``function(y_true, y_pred) -> float``; with ``needs_proba`` it receives
    the positive class's probability (two classes) or the probability matrix instead of
    ``y_pred``, like scikit-learn's scorers.
    """

    name: str
    function: str
    greater_is_better: bool
    needs_proba: bool = False

    def load(self) -> Callable[..., float]:
        """The function behind the import path: a plain Python function of (y_true, y_pred)."""
        try:
            found = import_path(self.function, "function", MODEL_PREFIXES)
        except ConfigError as exc:
            raise ConfigError(f"custom metric '{self.name}': {exc}") from None
        if found is None:
            raise ConfigError(f"custom metric '{self.name}': '{self.function}' cannot be imported")
        if not isinstance(found, types.FunctionType) or not _takes_two_arguments(found):
            raise ConfigError(f"custom metric '{self.name}': '{self.function}' is not a Python "
                              "function taking (y_true, y_pred)")
        return found


def _takes_two_arguments(function: types.FunctionType) -> bool:
    try:
        inspect.signature(function).bind(None, None)
    except (TypeError, ValueError):
        return False
    return True


@dataclass(frozen=True)
class Predictions:
    """One model's outputs on labelled rows, and how to score them.

    ``positive`` is the positive label when the rows hold at most two classes (binary
    averaging), None for more classes (macro averaging) and for regression. ``proba`` has one
    column per label in ``classes``; None when the model has no ``predict_proba``.
    """

    task: str
    truth: np.ndarray
    predicted: np.ndarray
    proba: np.ndarray | None = None
    classes: tuple | None = None
    positive: Any = None

    def __len__(self) -> int:
        return len(self.truth)


def predict(model: Any, features: pd.DataFrame, target: pd.Series, task: str) -> Predictions:
    """Run ``model`` once on ``features``; ``target`` holds the true labels or values."""
    return labelled(task, target, *outputs_of(model, features, task))


def outputs_of(model: Any, features: pd.DataFrame,
               task: str) -> tuple[np.ndarray, np.ndarray | None, tuple | None]:
    """What ``model`` says of ``features``: its predictions and, for a classifier with
    ``predict_proba``, the probabilities and the labels of their columns."""
    import numpy as np

    predicted = np.asarray(model.predict(features))
    if task == "regression" or not hasattr(model, "predict_proba"):
        return predicted, None, None
    return predicted, np.asarray(model.predict_proba(features), dtype=float), tuple(model.classes_)


def labelled(task: str, target: pd.Series, predicted: np.ndarray, proba: np.ndarray | None = None,
             classes: tuple | None = None) -> Predictions:
    """A model's outputs (:func:`outputs_of`) next to the true labels or values."""
    truth = target.to_numpy()
    if task == "regression":
        return Predictions(task, truth.astype(float), predicted.astype(float))
    labels = sorted(target.dropna().unique())
    positive = labels[-1] if len(labels) <= 2 else None
    return Predictions(task, truth, predicted, proba, classes, positive)


def compute(
    predictions: Predictions,
    rows: np.ndarray | None = None,
    custom: Sequence[CustomMetric] = (),
) -> dict[str, float]:
    """Every metric that can be computed on ``rows`` (all rows when None), as plain floats.

    Metrics undefined there (ROC AUC of one class, probability metrics of a model without
    probabilities) are left out.
    """
    import numpy as np

    index = np.arange(len(predictions)) if rows is None else np.asarray(rows)
    result = {}
    for name in (*TASK_METRICS[predictions.task], *(metric.name for metric in custom)):
        if name in PROBABILITY_METRICS and predictions.proba is None:
            continue
        value = float(resampled(name, predictions, index[None, :], custom)[0])
        if not np.isnan(value):
            result[name] = value
    return result


def resampled(
    metric: str,
    predictions: Predictions,
    rows: np.ndarray,
    custom: Sequence[CustomMetric] = (),
) -> np.ndarray:
    """``metric`` on each row of the index matrix ``rows`` (one resample per row); NaN where
    it is undefined."""
    for spec in custom:
        if spec.name == metric:
            return _custom(spec, predictions, rows)
    if metric not in TASK_METRICS[predictions.task]:
        raise ConfigError(
            f"metric '{metric}' is not a {predictions.task} metric; choose one of "
            f"{', '.join(TASK_METRICS[predictions.task])} or a custom metric"
        )
    if predictions.task == "regression":
        return _regression(metric, predictions, rows)
    if metric in PROBABILITY_METRICS:
        if predictions.proba is None:
            raise ConfigError(f"metric '{metric}' needs a model with predict_proba")
        return _roc_auc(predictions, rows) if metric == "roc_auc" else _log_loss(predictions, rows)
    return _label_metric(metric, predictions, rows)


def score(model: Any, features: pd.DataFrame, target: pd.Series, task: str) -> dict[str, float]:
    """Every built-in metric of the task type that ``model`` can produce on these rows."""
    return compute(predict(model, features, target, task))


def _regression(metric: str, predictions: Predictions, rows: np.ndarray) -> np.ndarray:
    import numpy as np

    errors = (predictions.predicted - predictions.truth)[rows]
    if metric == "rmse":
        return np.sqrt(np.mean(errors**2, axis=1))
    if metric == "mae":
        return np.mean(np.abs(errors), axis=1)
    truth = predictions.truth[rows]
    residual = np.sum(errors**2, axis=1)
    total = np.sum((truth - truth.mean(axis=1, keepdims=True)) ** 2, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = 1 - residual / total
    # scikit-learn's convention for constant targets: perfect is 1, anything else 0.
    return np.where(total == 0, np.where(residual == 0, 1.0, 0.0), r2)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, 0 where the denominator is 0 (zero_division=0)."""
    import numpy as np

    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / denominator, 0.0)


def _label_metric(metric: str, predictions: Predictions, rows: np.ndarray) -> np.ndarray:
    import numpy as np

    truth, predicted = predictions.truth, predictions.predicted
    if metric == "accuracy":
        return np.mean((truth == predicted)[rows], axis=1)
    if predictions.positive is not None:
        labels, present = [predictions.positive], None
    else:
        labels = sorted(set(truth) | set(predicted))
        present = []
    values = []
    for label in labels:
        actual, chosen = (truth == label)[rows], (predicted == label)[rows]
        hits = np.sum(actual & chosen, axis=1)
        n_chosen, n_actual = chosen.sum(axis=1), actual.sum(axis=1)
        if metric == "precision":
            values.append(_ratio(hits, n_chosen))
        elif metric == "recall":
            values.append(_ratio(hits, n_actual))
        else:
            values.append(_ratio(2 * hits, n_chosen + n_actual))
        if present is not None:
            present.append((n_chosen + n_actual) > 0)
    if present is None:
        return values[0]
    # Macro average over the labels that occur in the resample (scikit-learn's unique_labels).
    weights = np.array(present, dtype=float)
    return np.sum(np.array(values) * weights, axis=0) / weights.sum(axis=0)


def _auc(scores: np.ndarray, positive: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """ROC AUC per resample by the rank-sum (Mann-Whitney) formula; ties count half."""
    import numpy as np
    from scipy.stats import rankdata

    ranks = rankdata(scores[rows], axis=1)
    hits = positive[rows]
    n_positive = hits.sum(axis=1)
    n_negative = rows.shape[1] - n_positive
    with np.errstate(divide="ignore", invalid="ignore"):
        auc = (np.sum(ranks * hits, axis=1) - n_positive * (n_positive + 1) / 2) / (
            n_positive * n_negative
        )
    return np.where((n_positive > 0) & (n_negative > 0), auc, np.nan)


def _roc_auc(predictions: Predictions, rows: np.ndarray) -> np.ndarray:
    import numpy as np

    classes = list(predictions.classes)
    if predictions.positive is not None:
        if predictions.positive not in classes:
            return np.full(len(rows), np.nan)
        column = predictions.proba[:, classes.index(predictions.positive)]
        return _auc(column, predictions.truth == predictions.positive, rows)
    per_class = [_auc(predictions.proba[:, i], predictions.truth == label, rows)
                 for i, label in enumerate(classes)]
    return np.mean(per_class, axis=0)  # one-vs-rest, macro; NaN when a class is absent


def _log_loss(predictions: Predictions, rows: np.ndarray) -> np.ndarray:
    import numpy as np

    proba = predictions.proba / predictions.proba.sum(axis=1, keepdims=True)
    column = {label: i for i, label in enumerate(predictions.classes)}
    index = np.array([column.get(label, -1) for label in predictions.truth])
    eps = np.finfo(proba.dtype).eps
    picked = np.clip(proba[np.arange(len(index)), index], eps, 1 - eps)
    losses = np.where(index >= 0, -np.log(picked), np.nan)
    return np.mean(losses[rows], axis=1)


def _custom(spec: CustomMetric, predictions: Predictions, rows: np.ndarray) -> np.ndarray:
    import numpy as np

    function = spec.load()
    if spec.needs_proba:
        if predictions.proba is None:
            raise ConfigError(f"custom metric '{spec.name}' needs a model with predict_proba")
        outputs = predictions.proba
        if predictions.positive is not None:
            outputs = outputs[:, list(predictions.classes).index(predictions.positive)]
    else:
        outputs = predictions.predicted
    try:
        return np.array([float(function(predictions.truth[r], outputs[r])) for r in rows])
    except Exception as exc:  # user code: name it, whatever it raised
        raise ConfigError(
            f"custom metric '{spec.name}' ({spec.function}) failed: {type(exc).__name__}: {exc}"
        ) from None
