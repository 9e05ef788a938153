"""Tests for scoring fitted models."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as sk
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.svm import LinearSVC

from airflow_mlops.core.errors import ConfigError
from airflow_mlops.core.metrics import (
    CLASSIFICATION,
    REGRESSION,
    TASK_METRICS,
    CustomMetric,
    compute,
    greater_is_better,
    predict,
    resampled,
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


RESAMPLES = np.random.default_rng(3).integers(0, 400, size=(20, 400))


def per_resample(function, *arrays):
    return [function(*(a[rows] for a in arrays)) for rows in RESAMPLES]


@pytest.mark.parametrize("target", ["churned", "region"])
def test_resampled_classification_metrics_match_scikit_learn(sample, target):
    features, labels = sample[FEATURES], sample[target]
    model = LogisticRegression(max_iter=2000).fit(features, labels)
    outputs = predict(model, features, labels, "classification")
    truth, predicted = labels.to_numpy(), model.predict(features)
    proba = model.predict_proba(features)
    average = "binary" if target == "churned" else "macro"

    expected = {
        "accuracy": per_resample(sk.accuracy_score, truth, predicted),
        "f1": per_resample(lambda t, p: sk.f1_score(t, p, average=average), truth, predicted),
        "precision": per_resample(
            lambda t, p: sk.precision_score(t, p, average=average, zero_division=0),
            truth, predicted),
        "log_loss": per_resample(lambda t, p: sk.log_loss(t, p, labels=model.classes_),
                                 truth, proba),
        "roc_auc": per_resample(
            (lambda t, p: sk.roc_auc_score(t, p[:, 1])) if target == "churned"
            else (lambda t, p: sk.roc_auc_score(t, p, multi_class="ovr")), truth, proba),
    }
    for metric, values in expected.items():
        assert resampled(metric, outputs, RESAMPLES) == pytest.approx(values), metric


def test_resampled_regression_metrics_match_scikit_learn(sample):
    features, target = sample[["tenure_months", "support_calls"]], sample["monthly_charges"]
    model = LinearRegression().fit(features, target)
    outputs = predict(model, features, target, "regression")
    truth, predicted = target.to_numpy(), model.predict(features)

    assert resampled("r2", outputs, RESAMPLES) == pytest.approx(
        per_resample(sk.r2_score, truth, predicted))
    assert resampled("rmse", outputs, RESAMPLES) == pytest.approx(
        per_resample(sk.root_mean_squared_error, truth, predicted))


def test_roc_auc_on_rows_of_one_class_is_undefined(sample):
    features, target = sample[FEATURES], sample["churned"]
    outputs = predict(LogisticRegression(max_iter=500).fit(features, target), features, target,
                      "classification")
    ones = np.flatnonzero(target.to_numpy() == 1)

    assert np.isnan(resampled("roc_auc", outputs, ones[None, :])[0])
    assert "roc_auc" not in compute(outputs, ones)
    assert compute(outputs, ones)["recall"] == pytest.approx(
        float(np.mean(outputs.predicted[ones] == 1)))


def test_custom_metrics_get_labels_or_the_positive_probability(sample):
    features, target = sample[FEATURES], sample["churned"]
    model = LogisticRegression(max_iter=500).fit(features, target)
    custom = (CustomMetric("balanced", "sklearn.metrics.balanced_accuracy_score", True),
              CustomMetric("ap", "sklearn.metrics.average_precision_score", True, True))

    result = compute(predict(model, features, target, "classification"), custom=custom)

    assert result["balanced"] == pytest.approx(
        sk.balanced_accuracy_score(target, model.predict(features)))
    assert result["ap"] == pytest.approx(
        sk.average_precision_score(target, model.predict_proba(features)[:, 1]))


def test_a_failing_custom_metric_is_named(sample):
    features, target = sample[FEATURES], sample["churned"]
    outputs = predict(LinearSVC().fit(features, target), features, target, "classification")
    broken = CustomMetric("broken", "sklearn.metrics.roc_auc_score", True, needs_proba=True)
    failing = CustomMetric("failing", "sklearn.metrics.r2_score", True)

    with pytest.raises(ConfigError, match="custom metric 'broken' needs a model with "
                                          "predict_proba"):
        compute(outputs, custom=(broken,))
    with pytest.raises(ConfigError, match=r"custom metric 'failing' \(sklearn.metrics.r2_score\) "
                                          r"failed: "):
        resampled("failing", outputs, np.zeros((1, 0), dtype=int), (failing,))
