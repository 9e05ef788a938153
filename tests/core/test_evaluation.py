"""Tests for comparing a challenger with the champion and recording the decision."""

from __future__ import annotations

import json

import mlflow
import mlflow.sklearn
import pytest
from mlflow import MlflowClient
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from airflow_mlops.core import registry
from airflow_mlops.core.errors import ConfigError, RegistryError
from airflow_mlops.core.evaluation import evaluate_challenger
from airflow_mlops.core.policy import PROMOTE, REJECT
from airflow_mlops.core.splits import split
from airflow_mlops.core.tracking import ensure_experiment
from airflow_mlops.core.training import train_challenger

MODEL = "churn"
FEATURES = ["tenure_months", "monthly_charges", "support_calls", "contract", "region"]
LOGISTIC = {"class": "sklearn.linear_model.LogisticRegression", "params": {"max_iter": 500}}
DUMMY = {"class": "sklearn.dummy.DummyClassifier", "params": {"strategy": "prior"}}
LINEAGE = {"dag_id": "nightly_retrain_churn", "data_fingerprint": "f1ngerpr1nt"}
CLASSIFY = {"target": "churned", "features": FEATURES, "task": "classification",
            "holdout_fraction": 0.3, "seed": 7}
REGRESS = {"target": "monthly_charges", "features": ["tenure_months", "support_calls"],
           "task": "regression", "holdout_fraction": 0.3, "seed": 7}
ROC_AUC = {"primary_metric": "roc_auc", "greater_is_better": True, "threshold": None,
           "min_absolute_change": 0.0, "min_relative_change": 0.0}


@pytest.fixture(scope="module")
def frame(customers):
    return customers.head(300)


@pytest.fixture
def register(mlflow_session, frame, tmp_path):
    """Train and register a version for DAG run ``run_id``; returns the version."""

    def register(estimator, run_id, split_options=CLASSIFY):
        return train_challenger(
            frame, model_name=MODEL, experiment_name="churn", estimator=estimator,
            lineage={**LINEAGE, "run_id": run_id},
            artifact_location=str(tmp_path / "artifacts"), **split_options,
        )["version"]

    return register


@pytest.fixture
def evaluate(mlflow_session, frame):
    """Evaluate a version on ``frame`` (or ``data``) with the ROC AUC policy by default."""

    def evaluate(version, policy=ROC_AUC, split_options=CLASSIFY, data=None):
        return evaluate_challenger(
            frame if data is None else data, model_name=MODEL, challenger_version=version,
            policy=policy, lineage={**LINEAGE, "run_id": "scheduled__eval"}, **split_options,
        )

    return evaluate


def make_champion(version: str) -> None:
    client = MlflowClient()
    expected = registry.alias_version(client, MODEL, registry.CHAMPION)
    registry.promote(client, MODEL, version, expected_champion=expected)


def test_first_challenger_is_promoted_and_the_record_is_stored(register, evaluate, frame):
    version = register(LOGISTIC, "run1")

    record = evaluate(version)

    assert record["verdict"] == PROMOTE
    assert (record["challenger_version"], record["champion_version"]) == (version, None)
    model = mlflow.sklearn.load_model(f"models:/{MODEL}/{version}")
    parts = split(frame, **CLASSIFY)
    assert record["holdout_rows"] == len(parts.holdout_target)
    assert record["challenger_metrics"]["roc_auc"] == pytest.approx(
        roc_auc_score(parts.holdout_target, model.predict_proba(parts.holdout_features)[:, 1])
    )
    tags = MlflowClient().get_model_version(MODEL, version).tags
    assert tags["airflow_mlops.decision"] == PROMOTE
    assert tags["airflow_mlops.reasons"] == "; ".join(record["reasons"])
    assert tags["airflow_mlops.compared_to"] == "none"
    assert tags["airflow_mlops.evaluated_by"] == "nightly_retrain_churn/scheduled__eval"
    assert json.loads(tags["airflow_mlops.decision_record"]) == record


def test_re_evaluation_returns_the_stored_record(register, evaluate, customers):
    version = register(LOGISTIC, "run1")
    first = evaluate(version)

    again = evaluate(version, data=customers.iloc[1000:1400])

    assert again == first


def test_better_challenger_replaces_a_weak_champion(register, evaluate):
    make_champion(register(DUMMY, "run1"))
    challenger = register(LOGISTIC, "run2")

    record = evaluate(challenger)

    assert record["verdict"] == PROMOTE
    assert record["champion_version"] == "1"
    assert record["champion_metrics"]["roc_auc"] == pytest.approx(0.5)
    assert record["challenger_metrics"]["roc_auc"] > record["champion_metrics"]["roc_auc"]
    assert MlflowClient().get_model_version(MODEL, challenger).tags[
        "airflow_mlops.compared_to"] == "1"


def test_weak_challenger_keeps_the_champion(register, evaluate):
    make_champion(register(LOGISTIC, "run1"))

    record = evaluate(register(DUMMY, "run2"))

    assert record["verdict"] == REJECT
    assert record["challenger_metrics"]["roc_auc"] < record["champion_metrics"]["roc_auc"]


def test_stale_record_is_replaced_after_the_champion_moved(register, evaluate):
    make_champion(register(DUMMY, "run1"))
    challenger = register(LOGISTIC, "run2")
    assert evaluate(challenger)["champion_version"] == "1"
    make_champion(register(DUMMY, "run3"))  # another run promoted in between

    record = evaluate(challenger)

    assert record["champion_version"] == "3"
    client = MlflowClient()
    assert client.get_model_version(MODEL, challenger).tags["airflow_mlops.compared_to"] == "3"
    registry.promote(client, MODEL, challenger, expected_champion=record["champion_version"])
    assert registry.alias_version(client, MODEL, registry.CHAMPION) == challenger


def test_record_is_kept_once_the_challenger_is_champion(register, evaluate):
    make_champion(register(DUMMY, "run1"))
    challenger = register(LOGISTIC, "run2")
    first = evaluate(challenger)
    make_champion(challenger)

    assert evaluate(challenger) == first


@pytest.mark.parametrize(("champion", "challenger", "verdict"), [
    ({"class": "sklearn.dummy.DummyRegressor"}, {"class": "sklearn.linear_model.Ridge"}, PROMOTE),
    ({"class": "sklearn.linear_model.Ridge"}, {"class": "sklearn.dummy.DummyRegressor"}, REJECT),
])
def test_lower_rmse_wins_without_saying_greater_is_better(register, evaluate, champion,
                                                          challenger, verdict):
    make_champion(register(champion, "run1", REGRESS))
    version = register(challenger, "run2", REGRESS)

    record = evaluate(version, policy={"primary_metric": "rmse"}, split_options=REGRESS)

    assert record["verdict"] == verdict
    better = record["challenger_metrics"]["rmse"] < record["champion_metrics"]["rmse"]
    assert better == (verdict == PROMOTE)


def test_metric_the_task_does_not_produce_is_named(evaluate):
    with pytest.raises(ConfigError, match=r"promotion metric 'roc_auc' is not produced for task "
                                          r"'regression'; available: rmse, mae, r2"):
        evaluate("1", policy=ROC_AUC, split_options=REGRESS)


def test_direction_contradicting_the_metric_is_refused(evaluate):
    with pytest.raises(ConfigError, match="greater_is_better is True, but lower values"):
        evaluate("1", policy={"primary_metric": "rmse", "greater_is_better": True},
                 split_options=REGRESS)


def test_metric_the_model_cannot_produce_is_named(register, evaluate):
    version = register({"class": "sklearn.svm.LinearSVC"}, "run1")

    with pytest.raises(ConfigError, match=r"v1 has no 'roc_auc' .* available: accuracy, "
                                          r"precision, recall, f1"):
        evaluate(version)

    assert "airflow_mlops.decision" not in MlflowClient().get_model_version(MODEL, version).tags


def test_pickled_champion_is_not_loaded(register, evaluate, frame, tmp_path):
    model = LogisticRegression(max_iter=500).fit(frame[["tenure_months"]], frame["churned"])
    with mlflow.start_run(experiment_id=ensure_experiment("churn", str(tmp_path / "artifacts"))):
        info = mlflow.sklearn.log_model(model, name="model", serialization_format="cloudpickle",
                                        pip_requirements=["scikit-learn"])
    registry.ensure_registered_model(MlflowClient(), MODEL)
    make_champion(mlflow.register_model(info.model_uri, MODEL).version)

    with pytest.raises(RegistryError, match=r"model 'churn' v1: serialized as 'cloudpickle'"):
        evaluate(register(LOGISTIC, "run1"))
