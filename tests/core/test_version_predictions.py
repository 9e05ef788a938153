"""Tests for registered versions' predictions computed in a child process (real MLflow store).

The loading checks and the crash and hang containment are tested with tampered models in
``tests/security/test_model_loading.py``; here, that what comes back from the child equals what
the model says in process, and that malformed answers from a child are refused.
"""

from __future__ import annotations

import mlflow
import mlflow.sklearn
import numpy as np
import pandas as pd
import pytest

from airflow_mlops.core.training import train_challenger
from airflow_mlops.core.version_predictions import VersionUnusable, _read, predict_versions

FEATURES = ["tenure_months", "monthly_charges", "support_calls", "contract", "region"]
LOGISTIC = {"class": "sklearn.linear_model.LogisticRegression", "params": {"max_iter": 500}}
RIDGE = {"class": "sklearn.linear_model.Ridge", "params": {}}
LABEL = "model 'churn' v1"


def register(frame, model: str, target: str, task: str, estimator: dict, tmp_path) -> str:
    return train_challenger(
        frame, model_name=model, experiment_name=model, target=target, task=task,
        holdout_fraction=0.3, seed=7, features=[c for c in FEATURES if c != target],
        estimator=estimator, lineage={"dag_id": "d", "run_id": model, "data_fingerprint": "f"},
        artifact_location=str(tmp_path / "artifacts"),
    )["version"]


def test_text_labels_and_probabilities_equal_the_model_s_own(mlflow_session, customers, tmp_path):
    data = customers.head(300).assign(
        churned=customers.head(300)["churned"].map({0: "stays", 1: "leaves"}))
    version = register(data, "labels", "churned", "classification", LOGISTIC, tmp_path)
    rows = data.tail(60)

    (got,) = predict_versions("labels", [version], rows[FEATURES], rows["churned"],
                              "classification")

    model = mlflow.sklearn.load_model(f"models:/labels/{version}")
    assert got.predicted.tolist() == model.predict(rows[FEATURES]).tolist()
    assert got.predicted.dtype == object
    assert got.classes == tuple(model.classes_) == ("leaves", "stays")
    assert got.proba.tolist() == model.predict_proba(rows[FEATURES]).tolist()
    assert got.positive == "stays"
    assert got.truth.tolist() == rows["churned"].tolist()


def test_regression_values_equal_the_model_s_own(mlflow_session, customers, tmp_path):
    data = customers.head(300)
    version = register(data, "charges", "monthly_charges", "regression", RIDGE, tmp_path)
    rows = data.tail(60)
    features = [c for c in FEATURES if c != "monthly_charges"]

    (got,) = predict_versions("charges", [version], rows[features], rows["monthly_charges"],
                              "regression")

    model = mlflow.sklearn.load_model(f"models:/charges/{version}")
    assert got.predicted.tolist() == model.predict(rows[features]).tolist()
    assert got.proba is None


def test_a_version_that_cannot_predict_is_named_with_its_position(mlflow_session, customers,
                                                                  tmp_path):
    data = customers.head(300)
    version = register(data, "churn", "churned", "classification", LOGISTIC, tmp_path)
    rows = data.tail(30)

    with pytest.raises(VersionUnusable, match=rf"model 'churn' v{version}: cannot predict on 30 "
                       "rows: ") as raised:
        predict_versions("churn", [version, version], rows[FEATURES[:2]], rows["churned"],
                         "classification")
    assert raised.value.position == 0


def answer_files(folder, **arrays) -> None:
    for name, array in arrays.items():
        np.save(folder / f"0-{name}.npy", array, allow_pickle=name == "pickled")


TARGET = pd.Series([0, 1, 1])


@pytest.mark.parametrize(("answer", "files", "refusal"), [
    ({"labels": [0, 1], "kind": "i", "classes": None}, {"codes": np.array([0, 1])},
     r"returned codes of shape \(2,\) for 3 rows"),
    ({"labels": [0, 1], "kind": "i", "classes": None}, {"codes": np.array([0, 1, 5])},
     "returned label codes outside its labels"),
    ({"labels": [0, 1], "kind": "i", "classes": None}, {"codes": np.array([0.0, 1.0, 1.0])},
     "returned label codes outside its labels"),
    ({"labels": [0, 1], "kind": "V", "classes": None}, {"codes": np.array([0, 1, 1])},
     "returned labels of kind 'V'"),
    ({"labels": [[0, 1], [1, 0]], "kind": "O", "classes": None}, {"codes": np.array([0, 1, 1])},
     "returned labels that are not plain values"),
    ({"labels": [0, 1], "kind": "i", "classes": [0, 1]},
     {"codes": np.array([0, 1, 1]), "proba": np.ones((3, 3))},
     r"returned proba of shape \(3, 3\) for 3 rows"),
], ids=["too-few-rows", "code-out-of-range", "float-codes", "unknown-kind", "nested-labels",
        "proba-shape"])
def test_a_malformed_answer_of_the_child_is_refused(tmp_path, answer, files, refusal):
    answer_files(tmp_path, **files)

    with pytest.raises(VersionUnusable, match=rf"{LABEL}: {refusal}"):
        _read(0, LABEL, answer, tmp_path, TARGET, "classification")


def test_a_pickled_array_from_the_child_is_never_unpickled(tmp_path):
    class Payload:
        def __reduce__(self):
            return (open, (str(tmp_path / "marker"), "w"))

    np.save(tmp_path / "0-codes.npy", np.array([Payload()] * 3, dtype=object),
            allow_pickle=True)

    with pytest.raises(VersionUnusable, match=f"{LABEL}: its codes cannot be read"):
        _read(0, LABEL, {"labels": [0, 1], "kind": "i", "classes": None}, tmp_path, TARGET,
              "classification")
    assert not (tmp_path / "marker").exists()
    np.load(tmp_path / "0-codes.npy", allow_pickle=True)  # control: the payload runs
    assert (tmp_path / "marker").exists()


def test_a_well_formed_answer_is_read_back(tmp_path):
    answer_files(tmp_path, codes=np.array([1, 0, 1]), proba=np.full((3, 2), 0.5))

    got = _read(0, LABEL, {"labels": [0, 1], "kind": "i", "classes": [0, 1]}, tmp_path, TARGET,
                "classification")

    assert got.predicted.tolist() == [1, 0, 1]
    assert got.classes == (0, 1)
    assert got.positive == 1
