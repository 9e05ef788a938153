"""Tests for training a challenger and registering it, idempotently."""

from __future__ import annotations

from pathlib import Path

import mlflow
import mlflow.sklearn
import pytest
from mlflow import MlflowClient
from sklearn.metrics import roc_auc_score

from airflow_mlops.core import fetch, ledger, registry
from airflow_mlops.core.errors import ConfigError, DataError, RegistryError
from airflow_mlops.core.fetch import DIGEST_TAG, downloaded_digest, fetch_version
from airflow_mlops.core.splits import split
from airflow_mlops.core.tracking import ensure_experiment
from airflow_mlops.core.training import estimator_field, run_key, train_challenger

MODEL = "churn"
EXPERIMENT = "airflow-mlops/churn"
FEATURES = ["tenure_months", "monthly_charges", "support_calls", "contract", "region"]
LOGISTIC = {"class": "sklearn.linear_model.LogisticRegression", "params": {"max_iter": 500}}
LINEAGE = {"dag_id": "nightly_retrain_churn", "run_id": "scheduled__2026-01-02",
           "data_uri": "/data/ds=2026-01-02/customers.csv", "data_fingerprint": "f1ngerpr1nt"}
SPLIT = {"target": "churned", "features": FEATURES, "task": "classification",
         "holdout_fraction": 0.3, "seed": 7}


@pytest.fixture(scope="module")
def frame(customers):
    return customers.head(300)


@pytest.fixture
def train(mlflow_session, frame, tmp_path):
    """Train a challenger on the fresh store; keyword arguments override the defaults."""

    def train(**overrides):
        arguments = {"model_name": MODEL, "experiment_name": EXPERIMENT, "estimator": LOGISTIC,
                     "lineage": LINEAGE, "artifact_location": str(tmp_path / "artifacts"),
                     **SPLIT, **overrides}
        return train_challenger(frame, **arguments)

    return train


def versions(client: MlflowClient) -> list[str]:
    return sorted(str(v.version) for v in client.search_model_versions(f"name='{MODEL}'"))


def runs(client: MlflowClient) -> list:
    experiment = client.get_experiment_by_name(EXPERIMENT)
    return client.search_runs([experiment.experiment_id])


def test_run_key_depends_on_dag_run_and_data():
    assert run_key(LINEAGE) == run_key({**LINEAGE, "data_uri": "elsewhere", "task_id": "t"})
    assert run_key(LINEAGE) != run_key({**LINEAGE, "run_id": "manual__1"})
    assert run_key(LINEAGE) != run_key({**LINEAGE, "dag_id": "other"})
    assert run_key(LINEAGE) != run_key({**LINEAGE, "data_fingerprint": "0ther"})


def test_registers_a_challenger_with_lineage_tags(train, tmp_path):
    result = train()

    client = MlflowClient()
    assert result["version"] == "1"
    assert result["reused"] is False
    assert registry.alias_version(client, MODEL, registry.CHALLENGER) == "1"
    tags = client.get_model_version(MODEL, "1").tags
    for key in ("dag_id", "run_id", "data_fingerprint", "data_uri"):
        assert tags[registry.tag(key)] == LINEAGE[key]
    assert client.get_model_version(MODEL, "1").run_id == result["run_id"]
    assert client.get_run(result["run_id"]).info.status == "FINISHED"
    artifacts = client.get_experiment_by_name(EXPERIMENT).artifact_location
    assert artifacts.endswith(str(tmp_path / "artifacts"))


def recorded_digest(version: str) -> str | None:
    return MlflowClient().get_model_version(MODEL, version).tags.get(registry.tag(DIGEST_TAG))


def model_file(version: str) -> Path:
    return Path(MlflowClient().get_model_version_download_uri(MODEL, version)) / "model.skops"


def test_records_the_digest_of_the_files_consumers_fetch(train, tmp_path):
    result = train()

    fetched = fetch_version(MlflowClient(), MODEL, result["version"], tmp_path / "fetched")
    assert recorded_digest(result["version"]) == result["digest"] == fetched.digest
    assert len(result["digest"]) == 64


def test_records_the_digest_a_download_computes_without_downloading(train, monkeypatch):
    def no_download(*args, **kwargs):
        raise AssertionError("training downloaded the version it registered")

    monkeypatch.setattr(fetch, "_download", no_download)
    result = train()
    monkeypatch.undo()

    assert recorded_digest(result["version"]) == downloaded_digest(MODEL, result["version"])


def test_metrics_are_linked_to_the_logged_model(train):
    result = train()

    (logged,) = MlflowClient().search_logged_models([result["experiment_id"]])
    assert logged.source_run_id == result["run_id"]
    assert {m.key: m.value for m in logged.metrics} == result["metrics"]


def test_a_re_run_keeps_the_digest_it_recorded(train):
    first = train()

    again = train()

    assert again["reused"] is True
    assert again["digest"] == first["digest"] == recorded_digest(first["version"])


def test_a_re_run_after_a_crash_before_the_digest_was_recorded_records_it(train):
    first = train()
    MlflowClient().delete_model_version_tag(MODEL, first["version"], registry.tag(DIGEST_TAG))

    again = train()

    assert again["reused"] is True
    assert recorded_digest(first["version"]) == again["digest"] == first["digest"]


def test_a_re_run_never_records_files_changed_since_training(train, tmp_path):
    first = train()
    model_file(first["version"]).write_bytes(b"swapped")

    again = train()

    assert again["digest"] == first["digest"] == recorded_digest(first["version"])
    with pytest.raises(RegistryError, match=r"changed since training"):
        fetch_version(MlflowClient(), MODEL, first["version"], tmp_path / "fetched")


def test_metrics_are_those_of_the_registered_model_on_the_holdout(train, frame):
    result = train()

    model = mlflow.sklearn.load_model(f"models:/{MODEL}/{result['version']}")
    parts = split(frame, **SPLIT)
    expected = roc_auc_score(parts.holdout_target,
                             model.predict_proba(parts.holdout_features)[:, 1])
    assert result["metrics"]["roc_auc"] == pytest.approx(expected)
    assert MlflowClient().get_run(result["run_id"]).data.metrics == result["metrics"]


def test_same_lineage_reuses_the_version(train):
    first = train()

    second = train()

    client = MlflowClient()
    assert second["reused"] is True
    assert (second["version"], second["run_id"]) == (first["version"], first["run_id"])
    assert second["metrics"] == pytest.approx(first["metrics"])
    assert versions(client) == ["1"]
    assert len(runs(client)) == 1


def test_another_dag_run_creates_a_new_version(train):
    train()

    second = train(lineage={**LINEAGE, "run_id": "manual__2026-01-02"})

    client = MlflowClient()
    assert (second["version"], second["reused"]) == ("2", False)
    assert versions(client) == ["1", "2"]
    assert registry.alias_version(client, MODEL, registry.CHALLENGER) == "2"


def test_reuse_does_not_move_the_challenger_a_second_time(train):
    train()
    train(lineage={**LINEAGE, "run_id": "manual__2026-01-02"})

    again = train()

    client = MlflowClient()
    assert again["version"] == "1"
    assert registry.alias_version(client, MODEL, registry.CHALLENGER) == "2"
    moves = ledger.history(client, MODEL, alias=registry.CHALLENGER)
    assert [(m.from_version, m.to_version, m.dag_run_id) for m in moves] == [
        ("1", "2", "manual__2026-01-02"), (None, "1", LINEAGE["run_id"]),
    ]


def test_stray_running_run_without_a_version_is_failed(train, tmp_path):
    client = MlflowClient()
    experiment_id = ensure_experiment(EXPERIMENT, str(tmp_path / "artifacts"))
    stray = client.create_run(experiment_id, tags={registry.tag("run_key"): run_key(LINEAGE)})

    result = train()

    assert client.get_run(stray.info.run_id).info.status == "FAILED"
    assert result["run_id"] != stray.info.run_id
    assert (result["version"], result["reused"]) == ("1", False)


def test_running_run_that_registered_a_version_is_finished_and_reused(train):
    first = train()
    client = MlflowClient()
    client.update_run(first["run_id"], status="RUNNING")  # killed before the run was ended

    second = train()

    assert (second["version"], second["reused"]) == (first["version"], True)
    assert client.get_run(first["run_id"]).info.status == "FINISHED"


def test_retry_after_a_crash_before_the_alias_moved_leaves_no_orphan_version(train):
    first = train()
    client = MlflowClient()
    move = ledger.history(client, MODEL)[0]
    client.delete_registered_model_alias(MODEL, registry.CHALLENGER)  # the move was begun only
    client.update_run(move.entry_id, status="RUNNING")
    client.update_run(first["run_id"], status="RUNNING")  # and the task was killed

    again = train()

    assert (again["version"], again["reused"]) == ("1", True)
    assert versions(client) == ["1"]
    assert registry.alias_version(client, MODEL, registry.CHALLENGER) == "1"
    assert [(m.to_version, m.status) for m in ledger.history(client, MODEL)] == [
        ("1", ledger.DONE)]


def test_estimator_outside_the_allow_list_registers_nothing(train):
    knn = {"class": "sklearn.neighbors.KNeighborsClassifier", "params": {"algorithm": "kd_tree"}}

    with pytest.raises(ConfigError, match="outside the reviewed allow-list"):
        train(estimator=knn)

    client = MlflowClient()
    assert versions(client) == []
    assert [run.info.status for run in runs(client)] == ["FAILED"]


PIPELINE = {"steps": [{"class": "sklearn.preprocessing.StandardScaler"},
                      {"class": "sklearn.linear_model.LogisticRegression",
                       "params": {"C": -1.0, "max_iter": 500}}]}


def test_a_parameter_scikit_learn_refuses_names_the_field_and_registers_nothing(train):
    with pytest.raises(ConfigError) as error:
        train(estimator=PIPELINE)

    assert str(error.value).startswith(
        "field 'estimator.steps.1.params.C': estimator 'sklearn.linear_model.LogisticRegression':"
        " The 'C' parameter of LogisticRegression must be")
    client = MlflowClient()
    assert versions(client) == []
    assert runs(client) == []  # refused while building, before any run starts


@pytest.mark.parametrize(("overrides", "message"), [
    ({"target": "churn"}, "field 'target': column 'churn' is not in the data, which has "
                          "['customer_id', "),
    ({"features": ["tenure_months", "age"]},
     "field 'features': columns ['age'] are not in the data"),
])
def test_a_column_missing_from_the_data_names_the_field(train, overrides, message):
    with pytest.raises(DataError) as error:
        train(**overrides)

    assert str(error.value).startswith(message)
    assert runs(MlflowClient()) == []


@pytest.mark.parametrize(("message", "field"), [
    ("The 'C' parameter of LogisticRegression must be a float", "estimator.steps.1.params.C"),
    ("StandardScaler: with_mean=True cannot centre sparse data", "estimator.steps.0"),
    ("Input X contains NaN.", "estimator"),
    ("The 'max_iter' parameter of LogisticRegressionCV must be", "estimator"),
])
def test_estimator_field(message, field):
    assert estimator_field(PIPELINE, message) == field


def test_column_groups_are_logged_with_their_steps(train, mlflow_session):
    import mlflow

    estimator = {**LOGISTIC, "preprocess": {
        "numeric": {"columns": ["tenure_months", "monthly_charges"], "steps": [
            {"class": "sklearn.impute.SimpleImputer", "params": {"strategy": "median"}}]},
        "categorical": {"columns": ["contract", "region"], "steps": [
            {"class": "sklearn.preprocessing.OneHotEncoder",
             "params": {"handle_unknown": "ignore"}}]},
    }}

    result = train(estimator=estimator)

    params = mlflow.MlflowClient().get_run(result["run_id"]).data.params
    assert params["preprocess.numeric.columns"] == "tenure_months,monthly_charges"
    assert params["preprocess.numeric.step0.estimator"] == "sklearn.impute.SimpleImputer"
    assert params["preprocess.numeric.step0.strategy"] == "median"
    assert params["preprocess.categorical.step0.handle_unknown"] == "ignore"
    assert params["estimator"] == LOGISTIC["class"]
