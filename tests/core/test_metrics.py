"""Tests for scoring fitted models."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as sk
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.svm import LinearSVC

from airflow_mlops.core.metrics import (
    CLASSIFICATION,
    REGRESSION,
    TASK_METRICS,
    greater_is_better,
    score,
)

FEATURES = ["tenure_months", "monthly_charges", "support_calls"]


@pytest.fixture(scope="module")
def sample(customers):
    return customers.head(400)


def test_binary_metrics_match_scikit_learn(sample):
    features, target = sample[FEATURES], sample["churned"]
    model = LogisticRegression(max_iter=500).fit(features, target)

    result = score(model, features, target, "classification")

    predicted = model.predict(features)
    assert set(result) == set(CLASSIFICATION)
    assert result["accuracy"] == pytest.approx(sk.accuracy_score(target, predicted))
    assert result["f1"] == pytest.approx(sk.f1_score(target, predicted))
    assert result["roc_auc"] == pytest.approx(
        sk.roc_auc_score(target, model.predict_proba(features)[:, 1])
    )
    assert result["log_loss"] == pytest.approx(
        sk.log_loss(target, model.predict_proba(features))
    )


def test_binary_string_labels_use_the_later_label_as_positive(sample):
    features = sample[FEATURES]
    target = sample["churned"].map({0: "stays", 1: "leaves"})
    model = LogisticRegression(max_iter=500).fit(features, target)

    result = score(model, features, target, "classification")

    positive = target == "stays"
    assert result["recall"] == pytest.approx(
        sk.recall_score(positive, model.predict(features) == "stays")
    )
    stays = list(model.classes_).index("stays")
    assert result["roc_auc"] == pytest.approx(
        sk.roc_auc_score(positive, model.predict_proba(features)[:, stays])
    )


def test_two_class_holdout_of_a_three_class_model_scores_the_positive_class(sample):
    features = sample[FEATURES]
    target = pd.Series(np.digitize(sample["tenure_months"], [20, 45]), index=sample.index)
    model = LogisticRegression(max_iter=2000).fit(features, target)
    two_classes = target != 0

    result = score(model, features[two_classes], target[two_classes], "classification")

    column = list(model.classes_).index(2)
    expected = sk.roc_auc_score(
        target[two_classes] == 2, model.predict_proba(features[two_classes])[:, column]
    )
    assert result["roc_auc"] == pytest.approx(expected)


def test_multiclass_metrics_are_macro_averaged(sample):
    features, target = sample[FEATURES], sample["region"]
    model = LogisticRegression(max_iter=2000).fit(features, target)

    result = score(model, features, target, "classification")

    predicted = model.predict(features)
    assert result["f1"] == pytest.approx(sk.f1_score(target, predicted, average="macro"))
    assert result["roc_auc"] == pytest.approx(
        sk.roc_auc_score(target, model.predict_proba(features), multi_class="ovr")
    )


def test_model_without_probabilities_has_no_probability_metrics(sample):
    features, target = sample[FEATURES], sample["churned"]
    model = LinearSVC().fit(features, target)

    result = score(model, features, target, "classification")

    assert set(result) == {"accuracy", "precision", "recall", "f1"}


def test_single_class_holdout_has_no_roc_auc(sample):
    features, target = sample[FEATURES], sample["churned"]
    model = LogisticRegression(max_iter=500).fit(features, target)
    ones = target == 1

    result = score(model, features[ones], target[ones], "classification")

    assert "roc_auc" not in result
    assert result["recall"] == pytest.approx(float(np.mean(model.predict(features[ones]) == 1)))


def test_regression_metrics_match_their_definitions(sample):
    features, target = sample[["tenure_months", "support_calls"]], sample["monthly_charges"]
    model = LinearRegression().fit(features, target)

    result = score(model, features, target, "regression")

    errors = target - model.predict(features)
    assert set(result) == set(REGRESSION)
    assert result["rmse"] == pytest.approx(float(np.sqrt(np.mean(errors**2))))
    assert result["mae"] == pytest.approx(float(np.mean(np.abs(errors))))
    assert result["r2"] == pytest.approx(
        1 - float(np.sum(errors**2) / np.sum((target - target.mean()) ** 2))
    )
    assert all(type(value) is float for value in result.values())


@pytest.mark.parametrize(("metric", "higher"), [
    ("roc_auc", True), ("accuracy", True), ("r2", True),
    ("log_loss", False), ("rmse", False), ("mae", False),
])
def test_metric_direction(metric, higher):
    assert greater_is_better(metric) is higher


def test_task_metrics_cover_both_tasks():
    assert TASK_METRICS == {"classification": CLASSIFICATION, "regression": REGRESSION}
