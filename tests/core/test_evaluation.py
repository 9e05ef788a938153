"""Tests for comparing a challenger with the champion and recording the decision."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import mlflow
import mlflow.sklearn
import pytest
from mlflow import MlflowClient
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, balanced_accuracy_score, roc_auc_score

from airflow_mlops.core import registry
from airflow_mlops.core.errors import ConfigError, DataError, RegistryError
from airflow_mlops.core.evaluation import comparison_chart, evaluate_challenger
from airflow_mlops.core.policy import NEEDS_APPROVAL, PROMOTE, REJECT
from airflow_mlops.core.smoke import smoke_check
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

    def register(estimator, run_id, split_options=CLASSIFY, data=None):
        return train_challenger(
            frame if data is None else data, model_name=MODEL, experiment_name="churn",
            estimator=estimator, lineage={**LINEAGE, "run_id": run_id},
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
    with pytest.raises(ConfigError, match=r"model 'churn': promotion policy: primary_metric: "
                                          r"'roc_auc' is not a regression metric; choose one of "
                                          r"rmse, mae, r2"):
        evaluate("1", policy=ROC_AUC, split_options=REGRESS)


def test_direction_contradicting_the_metric_is_refused(evaluate):
    with pytest.raises(ConfigError, match="greater_is_better: True contradicts 'rmse', for "
                                          "which lower is better"):
        evaluate("1", policy={"primary_metric": "rmse", "greater_is_better": True},
                 split_options=REGRESS)


def test_metric_the_model_cannot_produce_is_named(register, evaluate):
    version = register({"class": "sklearn.svm.LinearSVC"}, "run1")

    with pytest.raises(ConfigError, match=r"v1 has no 'roc_auc' .* available: accuracy, "
                                          r"precision, recall, f1"):
        evaluate(version)

    assert "airflow_mlops.decision" not in MlflowClient().get_model_version(MODEL, version).tags


def test_pickled_champion_is_not_loaded(register, evaluate, frame, tmp_path, forge_digest):
    model = LogisticRegression(max_iter=500).fit(frame[["tenure_months"]], frame["churned"])
    with mlflow.start_run(experiment_id=ensure_experiment("churn", str(tmp_path / "artifacts"))):
        info = mlflow.sklearn.log_model(model, name="model", serialization_format="cloudpickle",
                                        pip_requirements=["scikit-learn"])
    registry.ensure_registered_model(MlflowClient(), MODEL)
    make_champion(mlflow.register_model(info.model_uri, MODEL).version)
    challenger = register(LOGISTIC, "run1")

    with pytest.raises(RegistryError, match=r"model 'churn' v1: no SHA-256 is recorded"):
        evaluate(challenger)
    forge_digest(MODEL, "1")
    with pytest.raises(RegistryError, match=r"model 'churn' v1: serialized as 'cloudpickle'"):
        evaluate(challenger)


def model_file(version: str) -> Path:
    return Path(MlflowClient().get_model_version_download_uri(MODEL, version)) / "model.skops"


def smoke_checked_champion(register, frame) -> str:
    """A logistic regression that passed its smoke check and was promoted, as in the DAG."""
    version = register(LOGISTIC, "run1")
    smoke_check(frame, model_name=MODEL, version=version, sample_name="sample",
                lineage={**LINEAGE, "run_id": "run1"})
    make_champion(version)
    return version


def test_a_smoke_checked_champion_is_compared_on_the_files_that_passed(register, evaluate,
                                                                       frame):
    champion = smoke_checked_champion(register, frame)

    record = evaluate(register(DUMMY, "run2"))

    assert (record["verdict"], record["champion_version"]) == (REJECT, champion)
    assert record["champion_metrics"]["roc_auc"] > 0.6


def test_a_champion_changed_after_its_smoke_check_stops_the_evaluation(register, evaluate,
                                                                       frame):
    """Its model file now holds another (sound) model: comparing against it would judge the
    challenger against a model nobody checked."""
    champion = smoke_checked_champion(register, frame)
    challenger = register(DUMMY, "run2")
    shutil.copyfile(model_file(challenger), model_file(champion))

    with pytest.raises(RegistryError, match=rf"model 'churn' v{champion}: files of "
                       rf"models:/churn/{champion} changed since the smoke check passed"):
        evaluate(challenger)

    assert "airflow_mlops.decision" not in MlflowClient().get_model_version(
        MODEL, challenger).tags


def test_a_challenger_changed_after_its_smoke_check_is_rejected_on_re_evaluation(
        register, evaluate, frame):
    """Re-evaluated after the champion moved, a challenger whose files differ from those its
    smoke check passed is never loaded, and so never promoted."""
    make_champion(register(DUMMY, "run1"))
    challenger = register(LOGISTIC, "run2")
    assert evaluate(challenger)["verdict"] == PROMOTE
    smoke_check(frame, model_name=MODEL, version=challenger, sample_name="sample",
                lineage={**LINEAGE, "run_id": "run2"})
    shutil.copyfile(model_file("1"), model_file(challenger))
    make_champion(register(DUMMY, "run3"))  # another run promoted in between

    record = evaluate(challenger)

    assert (record["verdict"], record["failed_checks"]) == (REJECT, ["usable"])
    assert "changed since the smoke check passed" in record["reasons"][0]


def logistic(**params):
    return {"class": "sklearn.linear_model.LogisticRegression",
            "params": {"max_iter": 500, **params}}


@pytest.fixture(scope="module")
def larger(customers):
    """More held-out rows (180), for slices and the bootstrap."""
    return customers.head(600)


def artifact(record: dict, name: str = "decision.json") -> bytes:
    from mlflow.artifacts import download_artifacts

    uri = record["record_uri"].rsplit("/", 1)[0] + "/" + name
    with open(download_artifacts(uri), "rb") as file:
        return file.read()


FULL = {**ROC_AUC, "guardrails": {"log_loss": 0.05},
        "slices": {"column": "contract", "min_rows": 20, "max_regression": 0.05},
        "bootstrap": {"resamples": 500, "confidence": 0.95}}


def test_better_challenger_passes_every_check_and_the_record_says_so(register, evaluate,
                                                                     larger):
    make_champion(register(DUMMY, "run1", data=larger))
    challenger = register(LOGISTIC, "run2", data=larger)

    summary = evaluate(challenger, policy=FULL, data=larger)

    assert (summary["verdict"], summary["failed_checks"]) == (PROMOTE, [])
    record = json.loads(artifact(summary))
    assert [c["name"] for c in record["checks"]] == [
        "improvement", "significance", "guardrails", "slices"]
    low, high = record["bootstrap"]["interval"]
    gain = summary["challenger_metrics"]["roc_auc"] - summary["champion_metrics"]["roc_auc"]
    assert 0 < low < gain < high
    assert record["bootstrap"] == {"resamples": 500, "confidence": 0.95, "seed": 7,
                                   "interval": [low, high], "defined": 500}
    assert [(v["value"], v["champion"]) for v in record["slices"]["values"]] == [
        ("month-to-month", 0.5), ("one-year", 0.5), ("two-year", 0.5)]
    assert sum(v["rows"] for v in record["slices"]["values"]) == summary["holdout_rows"] == 180
    assert record["policy"]["slices"]["column"] == "contract"
    assert record["evaluated_by"] == {**LINEAGE, "run_id": "scheduled__eval"}
    assert artifact(summary, "comparison.png").startswith(b"\x89PNG")
    run_id = MlflowClient().get_model_version(MODEL, challenger).run_id
    assert summary["record_uri"] == f"runs:/{run_id}/evaluation/vs-1/decision.json"


def test_the_bootstrap_is_seeded(register, evaluate, larger):
    make_champion(register(DUMMY, "run1", data=larger))
    challenger = register(LOGISTIC, "run2", data=larger)
    first = json.loads(artifact(evaluate(challenger, policy=FULL, data=larger)))
    make_champion(register(DUMMY, "run3", data=larger))  # a stale record: evaluated again

    again = json.loads(artifact(evaluate(challenger, policy=FULL, data=larger)))

    assert again["bootstrap"] == first["bootstrap"]


def test_improvement_within_noise_is_rejected_by_the_bootstrap_rule(register, evaluate, larger):
    make_champion(register(logistic(C=1.0), "run1", data=larger))
    challenger = register(logistic(C=2.0), "run2", data=larger)

    summary = evaluate(challenger, policy=FULL, data=larger)

    assert summary["challenger_metrics"]["roc_auc"] > summary["champion_metrics"]["roc_auc"]
    assert (summary["verdict"], summary["failed_checks"]) == (REJECT, ["significance"])
    assert "lower bound does not clear the required > 0" in summary["reasons"][1]


def test_escalated_noise_asks_for_approval(register, evaluate, larger):
    make_champion(register(logistic(C=1.0), "run1", data=larger))
    challenger = register(logistic(C=2.0), "run2", data=larger)
    policy = {**FULL, "approval": {"escalate": ["significance"]}}

    summary = evaluate(challenger, policy=policy, data=larger)

    assert summary["verdict"] == NEEDS_APPROVAL
    tags = MlflowClient().get_model_version(MODEL, challenger).tags
    assert tags["airflow_mlops.decision"] == NEEDS_APPROVAL


def test_first_challenger_needs_approval_when_a_human_always_decides(register, evaluate):
    summary = evaluate(register(LOGISTIC, "run1"), policy={**ROC_AUC, "approval": {"always": True}})

    assert summary["verdict"] == NEEDS_APPROVAL


def test_guardrail_regression_is_rejected(register, evaluate, larger):
    make_champion(register(LOGISTIC, "run1", data=larger))
    challenger = register(logistic(class_weight="balanced"), "run2", data=larger)
    policy = {"primary_metric": "recall", "guardrails": {"precision": 0.05}}

    summary = evaluate(challenger, policy=policy, data=larger)

    assert (summary["verdict"], summary["failed_checks"]) == (REJECT, ["guardrails"])
    loss = summary["champion_metrics"]["precision"] - summary["challenger_metrics"]["precision"]
    assert loss > 0.05
    assert f"guardrail precision {summary['challenger_metrics']['precision']:.4f}" in \
        summary["reasons"][1]


def test_slice_regression_is_rejected(register, evaluate, larger):
    flipped = larger.copy()
    one_year = flipped["contract"] == "one-year"
    flipped.loc[one_year, "churned"] = 1 - flipped.loc[one_year, "churned"]
    make_champion(register(DUMMY, "run1", data=larger))
    forest = {"class": "sklearn.ensemble.RandomForestClassifier",
              "params": {"n_estimators": 20, "max_depth": 5, "random_state": 0}}
    challenger = register(forest, "run2", data=flipped)  # learnt one-year backwards

    summary = evaluate(challenger, policy={**ROC_AUC, "slices": FULL["slices"]}, data=larger)

    assert summary["challenger_metrics"]["roc_auc"] > summary["champion_metrics"]["roc_auc"]
    assert (summary["verdict"], summary["failed_checks"]) == (REJECT, ["slices"])
    assert "1 lose more than 0.0500: one-year (" in summary["reasons"][1]


def test_missing_slice_column_is_named(register, evaluate):
    make_champion(register(DUMMY, "run1"))

    with pytest.raises(DataError, match="slice column 'segment' not found; the data has "
                                        "customer_id, tenure_months"):
        evaluate(register(LOGISTIC, "run2"), policy={**ROC_AUC, "slices": {"column": "segment"}})


def test_challenger_that_cannot_predict_is_rejected_never_promoted(register, evaluate):
    extra = {**CLASSIFY, "features": [*FEATURES, "customer_id"]}
    version = register(LOGISTIC, "run1", split_options=extra)

    summary = evaluate(version)  # the holdout lacks customer_id among its features

    assert (summary["verdict"], summary["failed_checks"]) == (REJECT, ["usable"])
    assert summary["reasons"][0].startswith(f"challenger v{version} cannot be loaded or cannot "
                                            "predict: ")
    assert "customer_id" in summary["reasons"][0]
    assert MlflowClient().get_model_version(MODEL, version).tags[
        "airflow_mlops.decision"] == REJECT


def test_pickled_challenger_is_rejected_unloaded(evaluate, frame, tmp_path, forge_digest):
    model = LogisticRegression(max_iter=500).fit(frame[FEATURES[:3]], frame["churned"])
    with mlflow.start_run(experiment_id=ensure_experiment("churn", str(tmp_path / "artifacts"))):
        info = mlflow.sklearn.log_model(model, name="model", serialization_format="cloudpickle",
                                        pip_requirements=["scikit-learn"])
    registry.ensure_registered_model(MlflowClient(), MODEL)
    version = mlflow.register_model(info.model_uri, MODEL).version
    forge_digest(MODEL, version)

    summary = evaluate(str(version))

    assert summary["verdict"] == REJECT
    assert "serialized as 'cloudpickle'" in summary["reasons"][0]


def test_custom_metrics_by_import_path(register, evaluate, frame):
    custom = {"balanced_accuracy": {"function": "sklearn.metrics.balanced_accuracy_score",
                                    "greater_is_better": True},
              "average_precision": {"function": "sklearn.metrics.average_precision_score",
                                    "greater_is_better": True, "needs_proba": True}}
    version = register(LOGISTIC, "run1")

    summary = evaluate(version, policy={"primary_metric": "balanced_accuracy",
                                        "custom_metrics": custom})

    model = mlflow.sklearn.load_model(f"models:/{MODEL}/{version}")
    parts = split(frame, **CLASSIFY)
    metrics = summary["challenger_metrics"]
    assert metrics["balanced_accuracy"] == pytest.approx(
        balanced_accuracy_score(parts.holdout_target, model.predict(parts.holdout_features)))
    assert metrics["average_precision"] == pytest.approx(average_precision_score(
        parts.holdout_target, model.predict_proba(parts.holdout_features)[:, 1]))


def test_custom_metric_that_cannot_be_imported_is_named(register, evaluate):
    custom = {"mine": {"function": "no.such.module.metric", "greater_is_better": True}}

    with pytest.raises(ConfigError, match="custom metric 'mine': 'no.such.module.metric' cannot "
                                          "be imported"):
        evaluate(register(LOGISTIC, "run1"), policy={"primary_metric": "mine",
                                                     "custom_metrics": custom})


@pytest.mark.parametrize("value", [r"$\foo$", "$x^$", "a$b"])
def test_comparison_chart_draws_data_values_as_text(value):
    """A slice value or column with '$' is drawn as text, never parsed as math (which raises)."""
    import io

    record = {
        "model": "m$", "challenger_version": "2", "champion_version": "1",
        "verdict": "promote", "challenger_metrics": {"roc_auc": 0.8},
        "champion_metrics": {"roc_auc": 0.7},
        "slices": {"metric": "roc_auc", "column": r"$\col$",
                   "values": [{"value": value, "rows": 40, "challenger": 0.8, "champion": 0.7}]},
    }
    buffer = io.BytesIO()
    comparison_chart(record).savefig(buffer, format="png")
    assert buffer.getvalue().startswith(b"\x89PNG")
