"""Tests for deterministic train/holdout splits."""

from __future__ import annotations

import pytest

from airflow_mlops.core.errors import DataError
from airflow_mlops.core.splits import feature_columns, split

OPTIONS = {"target": "churned", "features": None, "holdout_fraction": 0.25, "seed": 7,
           "task": "classification"}


@pytest.fixture(scope="module")
def frame(customers):
    return customers.head(400)


def test_same_inputs_give_the_same_rows(frame):
    first, second = split(frame, **OPTIONS), split(frame.copy(), **OPTIONS)

    assert list(first.holdout_features.index) == list(second.holdout_features.index)
    assert list(first.train_features.index) == list(second.train_features.index)


def test_another_seed_gives_other_rows(frame):
    first = split(frame, **OPTIONS)
    second = split(frame, **{**OPTIONS, "seed": 8})

    assert set(first.holdout_features.index) != set(second.holdout_features.index)


def test_parts_are_disjoint_and_complete(frame):
    parts = split(frame, **OPTIONS)

    train, holdout = set(parts.train_features.index), set(parts.holdout_features.index)
    assert not train & holdout
    assert train | holdout == set(frame.index)
    assert len(holdout) == 100
    assert list(parts.holdout_target.index) == list(parts.holdout_features.index)


def test_classification_split_keeps_the_class_balance(frame):
    parts = split(frame, **OPTIONS)

    overall = frame["churned"].mean()
    assert parts.holdout_target.mean() == pytest.approx(overall, abs=0.01)
    assert parts.train_target.mean() == pytest.approx(overall, abs=0.01)


def test_target_is_not_a_feature(frame):
    parts = split(frame, **OPTIONS)

    assert "churned" not in parts.train_features.columns
    assert list(parts.train_features.columns) == [c for c in frame.columns if c != "churned"]


def test_configured_features_are_kept_in_order(frame):
    parts = split(frame, **{**OPTIONS, "features": ["region", "tenure_months"]})

    assert list(parts.holdout_features.columns) == ["region", "tenure_months"]


def test_regression_splits_without_stratifying(frame):
    parts = split(frame, **{**OPTIONS, "target": "monthly_charges", "task": "regression"})

    assert len(parts.holdout_target) == 100


def test_missing_columns_are_named(frame):
    with pytest.raises(DataError, match=r"columns \['plan', 'churn'\] not found; the data has"):
        feature_columns(frame, "churn", ["tenure_months", "plan"])


def test_missing_target_is_named(frame):
    with pytest.raises(DataError, match=r"columns \['label'\] not found"):
        split(frame, **{**OPTIONS, "target": "label"})
