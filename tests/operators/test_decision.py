"""A night in one line (the DAG run's note) and as a short log block."""

from __future__ import annotations

import pytest

from airflow_mlops.operators.decision import blocked_note, decision_note, summarize, summary_lines
from airflow_mlops.operators.evaluation import decision_lines


def decision(**changes) -> dict:
    return {"model": "churn", "primary_metric": "roc_auc", "challenger_version": "7",
            "champion_version": "6", "challenger_metrics": {"roc_auc": 0.8123},
            "champion_metrics": {"roc_auc": 0.7911}, "verdict": "promote",
            "reasons": ["roc_auc 0.812 beats 0.791", "log_loss within 0.05"],
            "failed_checks": [], "record_uri": "runs:/abc/evaluation/vs-6/decision.json",
            **changes}


@pytest.mark.parametrize(("changes", "promotion", "note"), [
    ({}, {"champion": "7"}, "v7 promoted: roc_auc 0.812 vs 0.791 (v6)"),
    ({"champion_version": None, "champion_metrics": None}, {"champion": "7"},
     "v7 promoted: roc_auc 0.812, first version"),
    ({"verdict": "reject", "failed_checks": ["improvement", "slices"]}, None,
     "v7 rejected: roc_auc 0.812 vs 0.791 (v6); failed improvement, slices"),
    ({"verdict": "needs_approval"}, {"champion": "7"},
     "v7 promoted after approval: roc_auc 0.812 vs 0.791 (v6)"),
    ({"verdict": "needs_approval"}, None, "v7 rejected at approval: roc_auc 0.812 vs 0.791 (v6)"),
    ({"dry_run": True}, None, "dry run, v7 promote: roc_auc 0.812 vs 0.791 (v6)"),
])
def test_the_note_says_what_the_night_decided(changes, promotion, note):
    assert decision_note(decision(**changes), promotion) == note


@pytest.mark.parametrize(("validation", "note"), [
    ({"success": False, "failed": 3}, "blocked: validation, 3 checks failed"),
    ({"success": False, "failed": 1}, "blocked: validation, 1 check failed"),
    ({"success": False, "failed": 0, "error": "no rows"}, "blocked: validation, no rows"),
    ({"success": True, "failed": 0}, None),  # control: a passed validation blocks nothing
    (None, None),
])
def test_a_failed_validation_is_a_blocked_night(validation, note):
    assert blocked_note(validation) == note


def test_summary_carries_the_note_and_logs_a_short_block():
    summary = summarize({"rows": 900, "success": True}, decision(), {"champion": "7"})
    assert summary["note"] == "v7 promoted: roc_auc 0.812 vs 0.791 (v6)"
    assert summary_lines(summary).splitlines() == [
        "v7 promoted: roc_auc 0.812 vs 0.791 (v6)", "validation: passed (900 rows)",
        "champion after the night: v7", "- roc_auc 0.812 beats 0.791", "- log_loss within 0.05"]


def test_a_dry_run_promotion_moves_nothing_in_the_summary():
    summary = summarize({"rows": 9, "success": True}, decision(dry_run=True),
                        {"champion": "6", "dry_run": True})
    assert summary["champion_after"] == "6"
    assert summary["note"].startswith("dry run, ")


def test_the_decision_log_has_one_reason_per_line():
    lines = decision_lines(decision(), "https://mlflow.example.com/#/x").splitlines()
    assert lines == ["Decision for churn v7: promote", "roc_auc: 0.8123 vs v6 0.7911",
                     "- roc_auc 0.812 beats 0.791", "- log_loss within 0.05",
                     "Decision record: https://mlflow.example.com/#/x"]
    first = decision_lines(decision(champion_version=None, champion_metrics=None), "")
    assert "roc_auc: 0.8123 (first version, no champion yet)" in first
    assert "Decision record: runs:/abc/evaluation/vs-6/decision.json" in first
