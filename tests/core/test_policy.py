"""Tests for the promotion decision (MLflow MetricThreshold semantics)."""

from __future__ import annotations

import itertools
import json

import pytest

from airflow_mlops.core.policy import PROMOTE, REJECT, decide


def test_first_champion_needs_the_bar():
    assert decide("roc_auc", 0.69, None, threshold=0.7).verdict == REJECT
    assert decide("roc_auc", 0.7, None, threshold=0.7).verdict == PROMOTE


def test_first_champion_without_a_bar_is_promoted():
    decision = decide("roc_auc", 0.51, None)

    assert decision.verdict == PROMOTE
    assert decision.reasons == ["no champion yet"]


def test_bar_applies_even_when_the_champion_is_worse():
    decision = decide("roc_auc", 0.65, 0.5, threshold=0.7)

    assert decision.verdict == REJECT
    assert "misses the bar (at least 0.7000)" in decision.reasons[0]


def test_tie_keeps_the_champion():
    assert decide("roc_auc", 0.8, 0.8).verdict == REJECT
    assert decide("rmse", 3.0, 3.0, greater_is_better=False).verdict == REJECT


def test_any_gain_promotes_by_default():
    assert decide("roc_auc", 0.8001, 0.8).verdict == PROMOTE
    assert decide("roc_auc", 0.7999, 0.8).verdict == REJECT


def test_min_absolute_change_is_inclusive():
    assert decide("acc", 0.75, 0.5, min_absolute_change=0.25).verdict == PROMOTE
    assert decide("acc", 0.74, 0.5, min_absolute_change=0.25).verdict == REJECT


def test_min_relative_change_is_relative_to_the_champion_magnitude():
    assert decide("acc", 0.625, 0.5, min_relative_change=0.25).verdict == PROMOTE
    assert decide("acc", 0.62, 0.5, min_relative_change=0.25).verdict == REJECT
    assert decide("r2", -0.375, -0.5, min_relative_change=0.25).verdict == PROMOTE
    assert decide("r2", -0.625, -0.5, min_relative_change=0.25).verdict == REJECT


def test_lower_is_better_flips_bar_and_gain():
    rmse = {"greater_is_better": False, "threshold": 4.0}

    assert decide("rmse", 4.5, None, **rmse).verdict == REJECT
    assert decide("rmse", 3.5, None, **rmse).verdict == PROMOTE
    assert decide("rmse", 3.0, 3.5, **rmse).verdict == PROMOTE
    assert decide("rmse", 3.75, 3.5, **rmse).verdict == REJECT
    assert decide("rmse", 3.0, 3.5, min_absolute_change=0.75, **rmse).verdict == REJECT


def test_reasons_name_the_metric_and_both_values():
    decision = decide("roc_auc", 0.9, 0.8, threshold=0.7)

    assert decision.reasons[0] == "roc_auc 0.9000 meets the bar (at least 0.7000)"
    assert "roc_auc 0.9000 vs champion 0.8000 (gain +0.1000" in decision.reasons[1]


def test_decision_is_plain_json():
    decision = decide("roc_auc", 0.9, 0.8)

    assert json.loads(json.dumps(decision.to_dict())) == {
        "verdict": PROMOTE, "reasons": decision.reasons,
    }


def _mlflow_verdict(challenger, champion, greater, threshold, absolute, relative):
    """MLflow's own validation, plus our rule that only a strictly better model replaces one.

    (MLflow without change thresholds does not compare with the baseline at all.)
    """
    import mlflow
    from mlflow.models import MetricThreshold
    from mlflow.models.evaluation import EvaluationResult
    from mlflow.models.evaluation.validation import ModelValidationFailedException

    if threshold is None and not absolute and not relative:
        threshold = float("-inf") if greater else float("inf")
    rule = MetricThreshold(threshold=threshold, min_absolute_change=absolute or None,
                           min_relative_change=relative or None, greater_is_better=greater)
    baseline = None if champion is None else EvaluationResult({"m": champion}, {})
    try:
        mlflow.validate_evaluation_results({"m": rule}, EvaluationResult({"m": challenger}, {}),
                                           baseline)
    except ModelValidationFailedException:
        return REJECT
    if champion is not None and not (challenger > champion if greater else challenger < champion):
        return REJECT
    return PROMOTE


# Values exact in binary, so both sides compare the same numbers at the boundaries.
CASES = [
    case for case in itertools.product(
        [0.5, 0.625, 0.75], [None, 0.5, 0.625], [True, False], [None, 0.625], [0.0, 0.125],
        [0.0, 0.25],
    )
    if case[1] is not None or not (case[4] or case[5])  # change thresholds need a champion
]


@pytest.mark.parametrize(
    ("challenger", "champion", "greater", "threshold", "absolute", "relative"), CASES
)
def test_agrees_with_mlflow_metric_threshold(challenger, champion, greater, threshold,
                                             absolute, relative):
    expected = _mlflow_verdict(challenger, champion, greater, threshold, absolute, relative)

    decision = decide("m", challenger, champion, greater_is_better=greater, threshold=threshold,
                      min_absolute_change=absolute, min_relative_change=relative)

    assert decision.verdict == expected
