"""EvaluateChallengerOperator: the decision summary and the shared failure policy."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from airflow_mlops.core.tracking import TrackingTarget, tracking_session
from airflow_mlops.core.training import train_challenger
from airflow_mlops.operators.evaluation import EvaluateChallengerOperator

MODEL = "churn"
FEATURES = ["tenure_months", "monthly_charges", "support_calls", "contract", "region"]
SPLIT = {"target": "churned", "features": FEATURES, "task": "classification",
         "holdout_fraction": 0.3, "seed": 7}
HIGH_BAR = {"primary_metric": "roc_auc", "threshold": 0.99}


class TaskInstance(SimpleNamespace):
    """What execute() uses of the task instance: ids and xcom_push."""

    def xcom_push(self, key: str, value) -> None:
        self.pushed[key] = value


@pytest.fixture(scope="module")
def store(tmp_path_factory, customers):
    """A store with versions 1 and 2 (no champion), reached through mlflow_default, and the
    night's data file."""
    root = tmp_path_factory.mktemp("evaluation")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    data = root / "day.csv"
    customers.head(300).to_csv(data, index=False)
    with tracking_session(TrackingTarget(uri)):
        for run_id in ("night-1", "night-2"):
            train_challenger(
                customers.head(300), model_name=MODEL, experiment_name="evaluation",
                estimator={"class": "sklearn.linear_model.LogisticRegression"},
                lineage={"dag_id": "d", "run_id": run_id, "data_fingerprint": "f"},
                artifact_location=str(root / "artifacts"), **SPLIT,
            )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIRFLOW_CONN_MLFLOW_DEFAULT", json.dumps({"conn_type": "mlflow",
                                                                 "host": uri}))
        yield data


def evaluate(data: Path, version: str, policy: dict, **kwargs):
    """Run the operator; returns (its return value or the exception, the pushed XComs)."""
    ti = TaskInstance(dag_id="d", run_id="scheduled__2026-03-02", task_id="evaluate", pushed={})
    operator = EvaluateChallengerOperator(
        task_id="evaluate", model_name=MODEL, challenger_version=version, data_uri=str(data),
        policy=policy, **SPLIT, **kwargs,
    )
    try:
        return operator.execute({"ti": ti}), ti.pushed
    except (AirflowFailException, AirflowSkipException) as exc:
        return exc, ti.pushed


def test_templated_fields():
    assert set(EvaluateChallengerOperator.template_fields) == {"challenger_version", "data_uri",
                                                               "validation"}


def test_unknown_failure_policy_fails_at_parse_time():
    with pytest.raises(Exception, match="on_failure='ignore' is not one of fail, warn, skip"):
        EvaluateChallengerOperator(task_id="e", model_name=MODEL, challenger_version="1",
                                   data_uri="x", target="y", policy={}, on_failure="ignore")


def test_a_promotable_challenger_pushes_a_small_summary(store):
    result, pushed = evaluate(store, "2", {"primary_metric": "roc_auc"}, on_failure="fail")

    assert result == pushed["return_value"]
    assert (result["verdict"], result["challenger_version"], result["dry_run"]) == (
        "promote", "2", False)
    assert result["record_uri"].endswith("/evaluation/vs-none/decision.json")
    assert len(json.dumps(result)) < 2048


def test_rejection_warns_by_default(store, capsys):
    result, pushed = evaluate(store, "1", HIGH_BAR)

    assert result["verdict"] == "reject"
    assert pushed["return_value"] == result
    warnings = [line for line in capsys.readouterr().out.splitlines() if "[warning" in line]
    assert any("model 'churn' v1: reject (roc_auc" in line for line in warnings)


def test_rejection_fails_the_task_after_pushing_the_summary(store):
    error, pushed = evaluate(store, "1", HIGH_BAR, on_failure="fail")

    assert isinstance(error, AirflowFailException)
    assert "model 'churn' v1: reject (roc_auc" in str(error)
    assert pushed["return_value"]["verdict"] == "reject"


def test_rejection_can_skip_the_task(store):
    error, pushed = evaluate(store, "1", HIGH_BAR, on_failure="skip")

    assert isinstance(error, AirflowSkipException)
    assert pushed["return_value"]["verdict"] == "reject"


def test_dry_run_never_blocks_and_says_so(store):
    result, _ = evaluate(store, "1", HIGH_BAR, on_failure="fail", dry_run=True)

    assert (result["verdict"], result["dry_run"]) == ("reject", True)


def test_a_broken_policy_fails_without_retry(store):
    error, pushed = evaluate(store, "1", {"primary_metric": "rmse"})

    assert isinstance(error, AirflowFailException)
    assert "promotion policy: primary_metric: 'rmse' is not a classification metric" in \
        str(error)
    assert pushed == {}
