"""Tests for rebuilding a registered version from its training records."""

from __future__ import annotations

import json

import pytest
from mlflow import MlflowClient

from airflow_mlops.core import registry
from airflow_mlops.core.errors import DataError, RegistryError
from airflow_mlops.core.io import file_digest, fingerprint, read_table
from airflow_mlops.core.reproduce import reproduce
from airflow_mlops.core.training import LIBRARIES_TAG, TRAINING_SPEC_TAG, train_challenger

MODEL = "churn"
FEATURES = ["tenure_months", "monthly_charges", "support_calls", "contract", "region"]
FOREST = {"class": "sklearn.ensemble.RandomForestClassifier",
          "params": {"n_estimators": 20, "random_state": 3}}


@pytest.fixture
def trained(mlflow_session, customers, tmp_path):
    """A version trained on a CSV under tmp_path, as the train task records it."""
    data = tmp_path / "ds=2026-01-01" / "customers.csv"
    data.parent.mkdir()
    customers.head(300).to_csv(data, index=False)
    frame = read_table(data)
    result = train_challenger(
        frame, model_name=MODEL, experiment_name="reproduce", target="churned",
        features=FEATURES, estimator=FOREST, task="classification", holdout_fraction=0.3,
        seed=7, artifact_location=str(tmp_path / "artifacts"),
        lineage={"dag_id": "d", "run_id": "r", "data_uri": str(data),
                 "data_fingerprint": fingerprint(frame), "data_digest": file_digest(data)},
    )
    return MlflowClient(), result["version"], data


def test_training_records_the_spec_and_library_versions(trained):
    client, version, _ = trained
    run = client.get_run(client.get_model_version(MODEL, version).run_id)
    spec = json.loads(run.data.tags[registry.tag(TRAINING_SPEC_TAG)])
    assert spec == {"target": "churned", "features": FEATURES, "task": "classification",
                    "estimator": FOREST, "holdout_fraction": 0.3, "seed": 7}
    libraries = json.loads(run.data.tags[registry.tag(LIBRARIES_TAG)])
    assert set(libraries) == {"python", "scikit-learn", "numpy", "pandas", "scipy"}


def test_a_version_rebuilt_from_its_records_matches(trained):
    client, version, data = trained
    result = reproduce(client, MODEL, version)
    assert result.matches, result.differences
    assert result.reproduced == pytest.approx(result.recorded)
    assert result.library_differences == {}
    assert result.data_uri == str(data)
    assert len(client.search_model_versions(f"name='{MODEL}'")) == 1  # nothing registered


def test_other_recorded_parameters_make_the_metrics_differ(trained):
    """Negative control: the comparison sees a fit that is not the recorded one."""
    client, version, _ = trained
    run_id = client.get_model_version(MODEL, version).run_id
    spec = json.loads(client.get_run(run_id).data.tags[registry.tag(TRAINING_SPEC_TAG)])
    spec["estimator"]["params"]["random_state"] = 4
    spec["estimator"]["params"]["n_estimators"] = 3
    client.set_tag(run_id, registry.tag(TRAINING_SPEC_TAG), json.dumps(spec))
    result = reproduce(client, MODEL, version)
    assert not result.matches
    assert "roc_auc" in result.differences


def test_library_version_differences_are_reported(trained):
    client, version, _ = trained
    run_id = client.get_model_version(MODEL, version).run_id
    libraries = json.loads(client.get_run(run_id).data.tags[registry.tag(LIBRARIES_TAG)])
    client.set_tag(run_id, registry.tag(LIBRARIES_TAG),
                   json.dumps({**libraries, "scikit-learn": "1.0.0"}))
    result = reproduce(client, MODEL, version)
    assert result.library_differences == {
        "scikit-learn": {"recorded": "1.0.0", "now": libraries["scikit-learn"]}}


def test_changed_data_is_refused(trained):
    client, version, data = trained
    data.write_text(data.read_text().replace("month-to-month", "one-year", 1))
    with pytest.raises(DataError, match=r"changed since training \(digest"):
        reproduce(client, MODEL, version)


def test_deleted_data_is_refused(trained):
    client, version, data = trained
    data.unlink()
    with pytest.raises(DataError, match="its training data is gone"):
        reproduce(client, MODEL, version)


def test_a_version_without_records_is_refused(trained):
    client, version, _ = trained
    client.delete_model_version_tag(MODEL, version, registry.tag("data_digest"))
    with pytest.raises(RegistryError, match="cannot be reproduced: its training recorded no"):
        reproduce(client, MODEL, version)


def test_an_unknown_version_is_refused(trained):
    client, _, _ = trained
    with pytest.raises(RegistryError, match="has no version 9"):
        reproduce(client, MODEL, "9")
