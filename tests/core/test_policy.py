"""Tests for the promotion decision (MLflow MetricThreshold semantics)."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from airflow_mlops.core.policy import (
    NEEDS_APPROVAL,
    PROMOTE,
    REJECT,
    Guardrail,
    SliceRule,
    SliceScore,
    decide,
    interval,
    unusable,
)


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
        "checks": [{"name": "improvement", "passed": True, "reason": decision.reasons[0]}],
    }


def test_every_check_is_reported_even_after_one_failed():
    decision = decide("roc_auc", 0.65, 0.7, threshold=0.7,
                      guardrails=[Guardrail("f1", 0.5, 0.6, 0.05)])

    assert [(c.name, c.passed) for c in decision.checks] == [
        ("bar", False), ("improvement", False), ("guardrails", False),
    ]
    assert decision.reasons == [c.reason for c in decision.checks]


SIGNIFICANT = {"gain_interval": (0.01, 0.05), "confidence": 0.95}


def test_gain_whose_interval_clears_zero_is_promoted():
    decision = decide("roc_auc", 0.83, 0.8, **SIGNIFICANT)

    assert decision.verdict == PROMOTE
    assert decision.reasons[1] == ("roc_auc gain 95% interval [+0.0100, +0.0500]: lower bound "
                                   "clears the required > 0 and >= 0.0000")


def test_gain_within_noise_is_rejected_by_the_bootstrap_rule():
    decision = decide("roc_auc", 0.83, 0.8, gain_interval=(-0.01, 0.07), confidence=0.9)

    assert decision.verdict == REJECT
    assert [c.name for c in decision.checks if not c.passed] == ["significance"]
    assert "90% interval [-0.0100, +0.0700]: lower bound does not clear" in decision.reasons[1]
    assert decision.reasons[1].endswith("(within noise)")


def test_lower_bound_must_clear_the_required_change_not_only_zero():
    decision = decide("roc_auc", 0.9, 0.8, min_absolute_change=0.05, gain_interval=(0.04, 0.15),
                      confidence=0.95)

    assert decision.checks[0].passed and not decision.checks[1].passed
    assert decision.verdict == REJECT


def test_undefined_bootstrap_fails_the_significance_check():
    decision = decide("roc_auc", 0.9, 0.8, gain_interval=None, confidence=0.95)

    assert decision.verdict == REJECT
    assert decision.reasons[1] == "roc_auc gain: no bootstrap resample defined the metric"


def test_no_significance_check_without_a_champion():
    assert decide("roc_auc", 0.9, None, confidence=0.95).verdict == PROMOTE


def test_interval_is_the_central_percentile_range_ignoring_undefined_resamples():
    gains = [*np.linspace(0.0, 1.0, 101), np.nan, np.nan]

    assert interval(gains, 0.9) == pytest.approx((0.05, 0.95))
    assert interval([np.nan], 0.9) is None


@pytest.mark.parametrize(("challenger", "champion", "greater", "verdict"), [
    (0.56, 0.6, True, PROMOTE),     # f1 lost 0.04 <= 0.05
    (0.54, 0.6, True, REJECT),      # f1 lost 0.06
    (0.44, 0.4, False, PROMOTE),    # log_loss rose 0.04
    (0.46, 0.4, False, REJECT),     # log_loss rose 0.06
])
def test_guardrail_may_not_regress_by_more_than_allowed(challenger, champion, greater, verdict):
    rule = Guardrail("g", challenger, champion, 0.05, greater)

    decision = decide("roc_auc", 0.9, 0.8, guardrails=[rule])

    assert decision.verdict == verdict
    word = "within" if verdict == PROMOTE else "exceeds"
    assert f"guardrail g {challenger:.4f} vs champion {champion:.4f}" in decision.reasons[1]
    assert f"{word} the allowed 0.0500" in decision.reasons[1]


def slices(*scores, min_rows=30, max_regression=0.05, greater=True):
    return SliceRule("contract", "roc_auc", min_rows, max_regression,
                     [SliceScore(*score) for score in scores], greater)


def test_slice_that_loses_too_much_rejects_and_is_named():
    rule = slices(("monthly", 200, 0.80, 0.81), ("yearly", 120, 0.70, 0.78))

    decision = decide("roc_auc", 0.9, 0.8, slices=rule)

    assert decision.verdict == REJECT
    assert decision.reasons[1] == ("slices of contract by roc_auc: 2 checked; 1 lose more than "
                                   "0.0500: yearly (120 rows) 0.7000 vs 0.7800")


def test_small_and_undefined_slices_are_not_checked():
    rule = slices(("monthly", 200, 0.80, 0.81), ("tiny", 29, 0.1, 0.9), ("one-class", 50, None,
                                                                            None))

    decision = decide("roc_auc", 0.9, 0.8, slices=rule)

    assert decision.verdict == PROMOTE
    assert decision.reasons[1] == ("slices of contract by roc_auc: 1 checked, 2 too small or "
                                   "undefined, none loses more than 0.0500")


def test_slice_regression_follows_the_metric_direction():
    assert decide("rmse", 3.0, 3.5, greater_is_better=False,
                  slices=slices(("a", 50, 4.0, 3.0), greater=False)).verdict == REJECT


def test_always_ask_turns_a_promotion_into_needs_approval():
    assert decide("roc_auc", 0.9, 0.8, require_approval=True).verdict == NEEDS_APPROVAL
    assert decide("roc_auc", 0.9, None, require_approval=True).verdict == NEEDS_APPROVAL
    assert decide("roc_auc", 0.7, 0.8, require_approval=True).verdict == REJECT


def test_escalated_checks_ask_a_human_instead_of_rejecting():
    noisy = {"gain_interval": (-0.01, 0.05), "confidence": 0.95}

    assert decide("roc_auc", 0.83, 0.8, **noisy).verdict == REJECT
    assert decide("roc_auc", 0.83, 0.8, escalate=["significance"], **noisy).verdict == \
        NEEDS_APPROVAL
    # The point estimate is worse: a human is not asked to overrule that.
    assert decide("roc_auc", 0.79, 0.8, escalate=["significance"], **noisy).verdict == REJECT


def test_escalation_needs_every_failed_check_to_be_escalated():
    rule = Guardrail("f1", 0.4, 0.6, 0.05)
    noisy = {"gain_interval": (-0.01, 0.05), "confidence": 0.95, "guardrails": [rule]}

    assert decide("roc_auc", 0.83, 0.8, escalate=["significance"], **noisy).verdict == REJECT
    assert decide("roc_auc", 0.83, 0.8, escalate=["significance", "guardrails"],
                  **noisy).verdict == NEEDS_APPROVAL


def test_unusable_challenger_is_rejected():
    decision = unusable("challenger v3 cannot be loaded or cannot predict: KeyError: 'x'")

    assert decision.verdict == REJECT
    assert [(c.name, c.passed) for c in decision.checks] == [("usable", False)]


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
