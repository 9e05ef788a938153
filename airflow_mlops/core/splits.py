"""Deterministic train/holdout splits, so separate tasks see the same held-out rows."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from airflow_mlops.core.errors import DataError

if TYPE_CHECKING:
    import pandas as pd


class Split(NamedTuple):
    """Features and target of the training and held-out parts of one data set."""

    train_features: pd.DataFrame
    train_target: pd.Series
    holdout_features: pd.DataFrame
    holdout_target: pd.Series


def feature_columns(frame: pd.DataFrame, target: str, features: list[str] | None) -> list[str]:
    """The configured features, or every column but the target; all must exist."""
    columns = features or [c for c in frame.columns if c != target]
    missing = [c for c in [*columns, target] if c not in frame.columns]
    if missing:
        raise DataError(f"columns {missing} not found; the data has {list(frame.columns)}")
    return columns


def split(
    frame: pd.DataFrame,
    *,
    target: str,
    features: list[str] | None,
    holdout_fraction: float,
    seed: int,
    task: str,
) -> Split:
    """Split reproducibly: the same frame, fraction and seed give the same rows."""
    from sklearn.model_selection import train_test_split

    columns = feature_columns(frame, target, features)
    stratify = None
    if task == "classification" and frame[target].value_counts().min() >= 2:
        stratify = frame[target]
    train, holdout = train_test_split(
        frame, test_size=holdout_fraction, random_state=seed, stratify=stratify
    )
    return Split(train[columns], train[target], holdout[columns], holdout[target])
