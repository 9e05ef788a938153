"""The champion's quality on labelled windows, against its training run, in a real store."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from airflow_mlops.core import registry
from airflow_mlops.core.drift import NoChampionError
from airflow_mlops.core.drift_history import Window
from airflow_mlops.core.errors import ConfigError, DataError, RegistryError
from airflow_mlops.core.failure import FailurePolicy
from airflow_mlops.core.metrics import CustomMetric
from airflow_mlops.core.quality import QualityResult, check_quality, monitor_quality
from airflow_mlops.core.training import train_challenger

MODEL = "churn"
FEATURES = ["tenure_months", "monthly_charges", "support_calls", "contract", "region"]
ARGS = {"model_name": MODEL, "target": "churned", "features": FEATURES,
        "task": "classification", "metric": "roc_auc", "max_decay": 0.05}
BRIER = CustomMetric("brier", "sklearn.metrics.brier_score_loss", greater_is_better=False,
                     needs_proba=True)


@pytest.fixture
def champion(mlflow_session, customers, tmp_path):
    """A logistic regression trained on the first 1000 customers, promoted to champion."""
    from mlflow import MlflowClient

    trained = train_challenger(
        customers.head(1000), model_name=MODEL, experiment_name="airflow-mlops/churn",
        target="churned", features=FEATURES, task="classification", holdout_fraction=0.3,
        seed=7, estimator={"class": "sklearn.linear_model.LogisticRegression",
                           "params": {"max_iter": 500}},
        lineage={"data_fingerprint": "f", "data_uri": "train.csv"},
        artifact_location=str(tmp_path / "artifacts"),
    )
    registry.promote(MlflowClient(), MODEL, trained["version"], expected_champion=None)
    return trained


def test_a_window_like_the_training_data_has_not_decayed(champion, customers):
    result = check_quality(customers.iloc[1000:2000], **ARGS)

    assert result.baseline == champion["metrics"]["roc_auc"]
    assert result.rows == 1000 and result.champion_version == champion["version"]
    assert not result.decayed


def test_flipped_labels_decay(champion, customers):
    window = customers.iloc[1000:2000].copy()
    window["churned"] = 1 - window["churned"]

    result = check_quality(window, **ARGS)

    assert result.decayed and result.decay > 0.3
    assert "roc_auc" in result.reason() and "max decay 0.05" in result.reason()


def test_decay_respects_the_metric_direction_and_relative_limit():
    lower_better = QualityResult(MODEL, "1", "log_loss", baseline=0.40, value=0.50, rows=9,
                                 max_decay=0.2, max_relative_decay=0.1)
    assert lower_better.decay == pytest.approx(0.10)
    assert lower_better.decayed, "0.10 is 25% of 0.40, above the relative limit"
    improved = QualityResult(MODEL, "1", "roc_auc", baseline=0.7, value=0.8, rows=9,
                             max_decay=0.0, max_relative_decay=None)
    assert improved.decay < 0 and not improved.decayed


def test_unlabelled_rows_are_left_out_and_no_labels_is_a_clear_error(champion, customers):
    window = customers.iloc[1000:1400].copy()
    window.loc[window.index[:100], "churned"] = np.nan

    assert check_quality(window, **ARGS).rows == 300
    window["churned"] = np.nan
    with pytest.raises(DataError, match=r"labelled window \(labelled rows\): data set has no rows"):
        check_quality(window, **ARGS)
    with pytest.raises(DataError, match="label column 'churned' missing"):
        check_quality(customers.drop(columns="churned"), **ARGS)


def test_a_metric_of_another_task_is_a_config_error(customers):
    with pytest.raises(ConfigError, match="'rmse' is no classification metric"):
        check_quality(customers.iloc[1000:1100], **{**ARGS, "metric": "rmse"})


def test_a_custom_metric_nobody_recorded_is_a_registry_error(champion, customers):
    with pytest.raises(RegistryError, match="'brier' was neither logged by its training run "
                                            r"\(accuracy, .*\) nor recorded by its evaluation "
                                            r"\(not evaluated\)"):
        check_quality(customers.iloc[1000:1100], **{**ARGS, "metric": "brier"}, custom=[BRIER])


@pytest.fixture
def evaluated(champion, customers):
    """The champion's decision record, with the custom metric computed by its evaluation."""
    from airflow_mlops.core.evaluation import evaluate_challenger

    return evaluate_challenger(
        customers.head(1000), model_name=MODEL, challenger_version=champion["version"],
        target="churned", features=FEATURES, task="classification", holdout_fraction=0.3,
        seed=7, lineage={"dag_id": "d", "run_id": "r"},
        policy={"primary_metric": "brier", "custom_metrics": {"brier": {
            "function": BRIER.function, "greater_is_better": False, "needs_proba": True}}},
    )


def test_a_custom_metric_is_compared_with_what_the_evaluation_recorded(evaluated, customers):
    args = {**ARGS, "metric": "brier", "custom": [BRIER]}
    window = customers.iloc[1000:2000].copy()

    steady = check_quality(window, **args)
    window["churned"] = 1 - window["churned"]
    flipped = check_quality(window, **args)

    assert steady.baseline == evaluated["challenger_metrics"]["brier"]
    assert not steady.decayed
    assert flipped.value > steady.value and flipped.decay == pytest.approx(
        flipped.value - flipped.baseline)
    assert flipped.decayed and flipped.summary()["greater_is_better"] is False


def test_no_champion(mlflow_session, customers):
    with pytest.raises(NoChampionError):
        check_quality(customers, **ARGS)


def test_monitor_quality_records_the_window(champion, customers, tmp_path):
    path = tmp_path / "labelled.csv"
    window = customers.iloc[1000:2000].copy()
    window["churned"] = 1 - window["churned"]
    window.to_csv(path, index=False)
    day = dt.datetime(2026, 3, 2, tzinfo=dt.timezone.utc)

    checked = monitor_quality(
        experiment_name="airflow-mlops/churn", window=Window(day, day, "2026-03-02"),
        data_uri=str(path), policy=FailurePolicy(on_failure="skip"), lineage={},
        artifact_location=str(tmp_path / "monitoring"), **ARGS,
    )

    assert checked.summary["monitor"] == "quality" and checked.summary["drifted"] is True
    assert checked.verdict.outcome.value == "skip"
    assert checked.summary["report"].endswith("quality/quality_result.json")
