"""Quality metrics of a fitted model on labelled data."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

CLASSIFICATION = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss")
REGRESSION = ("rmse", "mae", "r2")
LOWER_IS_BETTER = frozenset({"log_loss", "rmse", "mae"})


def score(model: Any, features: pd.DataFrame, target: pd.Series, task: str) -> dict[str, float]:
    """Every metric of the task type, as plain floats."""
    from sklearn import metrics

    predicted = model.predict(features)
    if task == "regression":
        return {
            "rmse": float(metrics.root_mean_squared_error(target, predicted)),
            "mae": float(metrics.mean_absolute_error(target, predicted)),
            "r2": float(metrics.r2_score(target, predicted)),
        }
    binary = target.nunique() <= 2
    average = "binary" if binary else "macro"
    positive = {"pos_label": sorted(target.unique())[-1]} if binary else {}
    result = {
        "accuracy": float(metrics.accuracy_score(target, predicted)),
        "precision": float(
            metrics.precision_score(target, predicted, average=average, zero_division=0, **positive)
        ),
        "recall": float(
            metrics.recall_score(target, predicted, average=average, zero_division=0, **positive)
        ),
        "f1": float(metrics.f1_score(target, predicted, average=average, zero_division=0, **positive)),
    }
    if hasattr(model, "predict_proba") and target.nunique() > 1:
        probabilities = model.predict_proba(features)
        labels = list(model.classes_)
        if binary:
            result["roc_auc"] = float(metrics.roc_auc_score(target, probabilities[:, 1]))
        else:
            result["roc_auc"] = float(
                metrics.roc_auc_score(target, probabilities, multi_class="ovr", labels=labels)
            )
        result["log_loss"] = float(metrics.log_loss(target, probabilities, labels=labels))
    return result
