"""The smoke check against a real MLflow store: load as a consumer would, predict, record."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pytest
import yaml
from mlflow import MlflowClient

from airflow_mlops.core import registry
from airflow_mlops.core.errors import RegistryError
from airflow_mlops.core.fetch import (
    DIGEST_TAG,
    SMOKE_TAG,
    downloaded_digest,
    fetch_version,
    folder_digest,
    smoke_record,
)
from airflow_mlops.core.smoke import SmokeCheckError, smoke_check

MODEL = "churn"
FEATURES = ["tenure_months", "monthly_charges", "support_calls", "contract", "region"]
LINEAGE = {"dag_id": "nightly_retrain_churn", "run_id": "scheduled__2026-03-01"}


@pytest.fixture(scope="module")
def sample(customers):
    return customers.iloc[200:260].reset_index(drop=True)


def model_file(version: str) -> Path:
    return Path(MlflowClient().get_model_version_download_uri(MODEL, version)) / "model.skops"


def as_if_trained_so(version: str) -> None:
    """Record the files' digest as they are now, as if training had logged them so."""
    registry.set_version_tags(MlflowClient(), MODEL, version,
                              {DIGEST_TAG: downloaded_digest(MODEL, version)})


def check(sample, version: str, **kwargs) -> dict:
    return smoke_check(sample, model_name=MODEL, version=version, sample_name="day.csv",
                       lineage=LINEAGE, **kwargs)


def test_a_sound_version_passes_and_records_the_files_it_checked(store, sample, tmp_path):
    version = store()

    result = check(sample, version, sample_rows=25)

    assert result["passed"] is True
    assert result["rows"] == 25
    assert result["columns"] == FEATURES
    fetched = fetch_version(MlflowClient(), MODEL, version, tmp_path)
    record = smoke_record(MlflowClient(), MODEL, version)
    assert record == {"sample": "day.csv", "checked_by": "nightly_retrain_churn/"
                      "scheduled__2026-03-01", "passed": True, "digest": fetched.digest,
                      "rows": 25}
    trained = MlflowClient().get_model_version(MODEL, version).tags[registry.tag(DIGEST_TAG)]
    assert record["digest"] == trained  # the hash training recorded, over the same files


def test_files_changed_since_training_fail_and_are_recorded(store, sample):
    version = store()
    model_file(version).write_bytes(b"not a skops archive")

    with pytest.raises(SmokeCheckError, match=rf"model 'churn' v{version}: files of "
                       rf"models:/churn/{version} changed since training \(sha256 "):
        check(sample, version)

    record = smoke_record(MlflowClient(), MODEL, version)
    assert record["passed"] is False
    assert "changed since training" in record["error"]


def test_a_model_file_that_cannot_be_read_fails_and_is_recorded(store, sample):
    version = store()
    model_file(version).write_bytes(b"not a skops archive")
    as_if_trained_so(version)

    with pytest.raises(SmokeCheckError, match=rf"model 'churn' v{version}: cannot be loaded "
                       rf"from models:/churn/{version}"):
        check(sample, version)

    record = smoke_record(MlflowClient(), MODEL, version)
    assert record["passed"] is False
    assert "cannot be loaded" in record["error"]


def test_a_missing_model_file_fails(store, sample):
    version = store()
    model_file(version).unlink()
    as_if_trained_so(version)

    with pytest.raises(SmokeCheckError, match="cannot be loaded"):
        check(sample, version)


@pytest.mark.parametrize("change", [
    {"loader_module": "mymodels.loader"},
    {"code": "code"},
], ids=["other-loader", "code-path"])
def test_an_mlmodel_that_would_import_other_code_is_refused(store, sample, change):
    version = store()
    mlmodel = model_file(version).with_name("MLmodel")
    meta = yaml.safe_load(mlmodel.read_text())
    meta["flavors"]["python_function"].update(change)
    mlmodel.write_text(yaml.safe_dump(meta))
    as_if_trained_so(version)

    with pytest.raises(SmokeCheckError, match=r"its MLmodel loads through .*; only "
                       r"mlflow\.sklearn without code paths is loaded"):
        check(sample, version)


def test_a_sample_without_a_signature_column_fails_naming_it(store, sample):
    version = store()

    with pytest.raises(SmokeCheckError, match=r"signature needs column\(s\) region, which "
                       r"day\.csv does not have"):
        check(sample.drop(columns=["region"]), version)


def test_a_column_of_the_wrong_type_fails_naming_it(store, sample):
    version = store()
    wrong = sample.assign(tenure_months=sample["tenure_months"].astype(str) + " months")

    with pytest.raises(SmokeCheckError, match=r"day\.csv does not match its signature: .*"
                       r"column tenure_months"):
        check(wrong, version)
    assert smoke_record(MlflowClient(), MODEL, version)["passed"] is False


def test_a_model_that_cannot_predict_on_the_sample_fails_naming_the_columns_given(store, sample):
    version = store()  # a logistic regression without an imputer: a missing value stops it
    gap = sample.assign(monthly_charges=sample["monthly_charges"].where(sample.index != 3))

    with pytest.raises(SmokeCheckError, match=r"predict failed on 60 rows of day\.csv \(columns "
                       r"given: tenure_months, monthly_charges, support_calls, contract, region\): "
                       r".*NaN"):
        check(gap, version)
    assert smoke_record(MlflowClient(), MODEL, version)["passed"] is False


def test_a_pickled_model_is_refused_before_loading(store, sample, customers, forge_digest):
    from sklearn.dummy import DummyClassifier

    features = customers[["tenure_months"]]
    with mlflow.start_run(experiment_id=mlflow.get_experiment_by_name("trained").experiment_id):
        info = mlflow.sklearn.log_model(
            DummyClassifier().fit(features, customers["churned"]), name="model",
            serialization_format="cloudpickle", pip_requirements=[],
            signature=mlflow.models.infer_signature(features),
        )
    version = str(mlflow.register_model(info.model_uri, MODEL).version)
    forge_digest(MODEL, version)

    with pytest.raises(SmokeCheckError, match="not 'skops'; refusing to load it"):
        check(sample, version)


def test_a_model_without_signature_fails(store, sample, customers, forge_digest):
    from sklearn.dummy import DummyClassifier

    with mlflow.start_run(experiment_id=mlflow.get_experiment_by_name("trained").experiment_id):
        info = mlflow.sklearn.log_model(
            DummyClassifier().fit(customers[["tenure_months"]], customers["churned"]),
            name="model", serialization_format="skops", pip_requirements=[],
        )
    version = str(mlflow.register_model(info.model_uri, MODEL).version)
    forge_digest(MODEL, version)

    with pytest.raises(SmokeCheckError, match="has no signature"):
        check(sample, version)


def test_an_unknown_version_fails_without_tagging(store, sample):
    with pytest.raises(RegistryError, match="model 'churn' v999: no such version"):
        check(sample, "999")


def test_recheck_after_a_failure_records_the_pass(store, sample):
    version = store()
    with pytest.raises(SmokeCheckError):
        check(sample.drop(columns=["contract"]), version)

    check(sample, version)

    tag = MlflowClient().get_model_version(MODEL, version).tags[registry.tag(SMOKE_TAG)]
    assert json.loads(tag)["passed"] is True


def test_folder_digest_covers_names_and_contents(tmp_path):
    (tmp_path / "a").write_bytes(b"1")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b").write_bytes(b"2")
    before = folder_digest(tmp_path)

    (tmp_path / "sub" / "b").write_bytes(b"3")
    changed = folder_digest(tmp_path)
    (tmp_path / "sub" / "b").write_bytes(b"2")
    (tmp_path / "sub" / "b").rename(tmp_path / "sub" / "c")

    assert len({before, changed, folder_digest(tmp_path)}) == 3
