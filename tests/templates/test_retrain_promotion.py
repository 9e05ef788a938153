"""The retrain template's decision path: routing, human approval, and the promotion pool."""

from __future__ import annotations

import datetime as dt

import pytest
from airflow.providers.standard.operators.hitl import HITLBranchOperator
from airflow.sdk import TriggerRule

from airflow_mlops.core.config import ModelConfig
from airflow_mlops.operators.decision import ROUTES, route
from airflow_mlops.templates.retrain import build_retrain_dag

CONFIG = {
    "name": "churn",
    "start_date": "2026-01-01",
    "data_uri": "/lake/customers/ds={{ ds }}/customers.csv",
    "target": "churned",
    "features": ["tenure", "plan"],
    "suite": "/suites/churn.json",
    "estimator": {"class": "sklearn.linear_model.LogisticRegression"},
}


def build(**promotion):
    return build_retrain_dag(ModelConfig.model_validate({**CONFIG, "promotion": promotion}))


def test_approval_stands_between_the_decision_and_promote_or_reject():
    dag = build()

    approve = dag.task_dict["approve"]
    assert isinstance(approve, HITLBranchOperator)
    assert approve.upstream_task_ids == {"route_decision"}
    assert approve.downstream_task_ids == {ROUTES["promote"], "reject"}
    assert approve.options == ["Approve", "Reject"]
    assert approve.options_mapping == {"Approve": ROUTES["promote"], "Reject": "reject"}
    assert approve.defaults == ["Reject"]  # what an unanswered request ends in
    assert approve.response_timeout == dt.timedelta(hours=24)
    assert "evaluate" in approve.subject and "d.reasons" in approve.body
    assert set(dag.task_dict["route_decision"].downstream_task_ids) == {
        "approve", ROUTES["promote"], "reject"}
    for task_id in (ROUTES["promote"], "reject"):
        assert dag.task_dict[task_id].trigger_rule == TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS


def test_approval_timeout_follows_the_config():
    assert build(approval={"timeout_hours": 2}).task_dict["approve"].response_timeout == \
        dt.timedelta(hours=2)
    assert build(approval={"timeout_hours": None}).task_dict["approve"].response_timeout is None


def test_promotions_of_a_model_can_share_a_one_slot_pool():
    assert build().task_dict["promote"].pool == "default_pool"
    assert build(pool="mlops_promote_churn").task_dict["promote"].pool == "mlops_promote_churn"


def test_evaluation_gets_the_policy_and_the_failure_policy():
    dag = build(on_failure="fail", dry_run=True, bootstrap={"resamples": 200})

    evaluate = dag.task_dict["evaluate"]
    assert (evaluate.on_failure, evaluate.dry_run) == ("fail", True)
    assert evaluate.policy["bootstrap"] == {"resamples": 200, "confidence": 0.95, "seed": None}


@pytest.mark.parametrize(("verdict", "task_id"), [
    ("promote", ROUTES["promote"]), ("needs_approval", "approve"), ("reject", "reject"),
])
def test_route_follows_the_verdict(verdict, task_id):
    assert route({"verdict": verdict}) == [task_id]


def test_dry_run_follows_no_branch():
    assert route({"verdict": "promote", "dry_run": True}) == []
