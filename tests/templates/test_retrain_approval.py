"""The approval request's body: why a human is asked, a clickable record, a first model."""

from __future__ import annotations

import jinja2
import pytest

from airflow_mlops.templates.retrain import APPROVAL_BODY

RECORD = "https://mlflow.example.com/#/experiments/1/runs/abc/artifacts/evaluation/vs-3/decision.json"
CHART = "https://mlflow.example.com/#/experiments/1/runs/abc/artifacts/evaluation/vs-3/comparison.png"


class TaskInstance:
    def __init__(self, decision: dict, links: dict | None):
        self.pushed = {"return_value": decision, "mlops_links": links}

    def xcom_pull(self, task_ids: str, key: str = "return_value"):
        assert task_ids == "evaluate"
        return self.pushed[key]


def render(links: dict | None = None, **decision) -> str:
    decision = {"model": "churn", "challenger_version": "4", "champion_version": "3",
                "verdict": "needs_approval", "reasons": ["roc_auc 0.81 beats 0.79",
                                                         "significance: interval includes 0"],
                "failed_checks": [], "record_uri": "runs:/abc/evaluation/vs-3/decision.json",
                **decision}
    return jinja2.Environment().from_string(APPROVAL_BODY).render(
        ti=TaskInstance(decision, links))


def test_always_says_the_policy_asks_for_every_promotion_and_links_the_record():
    body = render({"Decision record": RECORD, "Comparison chart": CHART})
    assert "Challenger **v4** of `churn` against champion v3" in body
    assert "asks a human before every promotion (`approval.always`)" in body
    assert f"[Decision record]({RECORD}) · [comparison chart]({CHART})" in body
    assert "- significance: interval includes 0\n" in body


def test_escalated_checks_are_named():
    body = render({"Decision record": RECORD}, failed_checks=["significance", "slices"])
    assert "escalates them to a human instead of rejecting: significance, slices." in body
    assert "approval.always" not in body
    assert "comparison chart" not in body  # no chart: no dangling link


def test_a_first_model_has_no_champion_rather_than_vnone():
    body = render({"Decision record": RECORD}, champion_version=None)
    assert "`churn` (first version, no champion yet)" in body
    assert "vNone" not in body and "None" not in body


@pytest.mark.parametrize("links", [None, {"Decision record": ""}])
def test_without_a_web_link_the_record_is_named(links):
    body = render(links)
    assert "Decision record: `runs:/abc/evaluation/vs-3/decision.json`" in body
    assert "](" not in body


@pytest.mark.parametrize(("schedule", "when"), [
    ("0 2 * * *", "on cron `0 2 * * *` (UTC) or when drift monitoring requests a retrain"),
    (None, "when drift monitoring requests a retrain"),
])
def test_the_description_shows_the_cron_next_to_the_asset_trigger(schedule, when):
    from airflow_mlops.core.config import ModelConfig
    from airflow_mlops.templates.retrain import build_retrain_dag

    config = ModelConfig.model_validate({
        "name": "churn", "start_date": "2026-01-01", "schedule": schedule,
        "data_uri": "/lake/customers/ds={{ ds }}/customers.csv", "target": "churned",
        "suite": "/suites/churn.json",
        "estimator": {"class": "sklearn.linear_model.LogisticRegression"},
    })
    dag = build_retrain_dag(config)
    assert dag.description == f"Validate, retrain and compare churn against its champion, {when}"
