"""Fetching a version: its files are checked against the hashes recorded on it (real MLflow)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mlflow import MlflowClient
from mlflow.models import Model

from airflow_mlops.core import registry
from airflow_mlops.core.errors import RegistryError
from airflow_mlops.core.fetch import (
    DIGEST_TAG,
    TRUST_TAG,
    downloaded_digest,
    fetch_version,
    folder_digest,
    trust_version,
    verify_smoke_checked,
)
from airflow_mlops.core.smoke import SmokeCheckError, smoke_check

MODEL = "churn"
FEATURES = ["tenure_months", "monthly_charges", "support_calls", "contract", "region"]
LINEAGE = {"dag_id": "nightly_retrain_churn", "run_id": "scheduled__2026-03-01"}


@pytest.fixture
def sample(customers):
    return customers.iloc[200:230].reset_index(drop=True)


def requirements(version: str) -> Path:
    return Path(MlflowClient().get_model_version_download_uri(MODEL, version)) / "requirements.txt"


def trained_digest(version: str) -> str:
    return MlflowClient().get_model_version(MODEL, version).tags[registry.tag(DIGEST_TAG)]


def fetch(version: str, folder: Path):
    return fetch_version(MlflowClient(), MODEL, version, folder)


def smoke(sample, version: str) -> dict:
    return smoke_check(sample, model_name=MODEL, version=version, sample_name="day.csv",
                       lineage=LINEAGE)


def test_fetches_the_files_training_recorded(store, tmp_path):
    version = store()

    fetched = fetch(version, tmp_path)

    assert fetched.digest == trained_digest(version) == folder_digest(fetched.path)
    assert downloaded_digest(MODEL, version) == fetched.digest
    assert (fetched.path / "model.skops").is_file()
    assert fetched.signature.inputs.input_names() == FEATURES


def test_files_changed_since_training_are_refused_before_the_mlmodel_is_read(
        store, tmp_path, monkeypatch):
    version = store()
    recorded = trained_digest(version)
    requirements(version).write_text("evil-package==6.6.6\n")
    reads = []
    real_read = Model.load
    monkeypatch.setattr(Model, "load", lambda *a, **k: reads.append(a) or real_read(*a, **k))

    with pytest.raises(RegistryError) as raised:
        fetch(version, tmp_path / "fetched")

    now = folder_digest(tmp_path / "fetched")
    assert str(raised.value) == (
        f"model 'churn' v{version}: files of models:/churn/{version} changed since training "
        f"(sha256 {now[:12]}..., recorded {recorded[:12]}...); refusing to load them"
    )
    assert reads == []


def test_files_changed_since_the_smoke_check_name_both_records(store, sample, tmp_path):
    version = store()
    smoke(sample, version)
    requirements(version).write_text("evil-package==6.6.6\n")

    with pytest.raises(RegistryError, match=rf"v{version}: files of models:/churn/{version} "
                       r"changed since the smoke check passed and since training \(sha256 "):
        fetch(version, tmp_path)


def test_a_version_without_a_training_digest_is_bound_by_its_smoke_check(store, sample,
                                                                          tmp_path):
    """Only a passed smoke check's digest recorded (no training one): it still binds."""
    version = store()
    smoke(sample, version)
    MlflowClient().delete_model_version_tag(MODEL, version, registry.tag(DIGEST_TAG))
    fetch(version, tmp_path / "untouched")
    requirements(version).write_text("evil-package==6.6.6\n")

    with pytest.raises(RegistryError, match=rf"v{version}: files of models:/churn/{version} "
                       r"changed since the smoke check passed \(sha256 "):
        fetch(version, tmp_path)


def test_a_version_with_no_recorded_digest_is_refused_until_trusted(store, tmp_path):
    """Registered by hand or trained before digests were recorded: nothing vouches for its
    files until a reviewer records their digest; then they load, and only those files."""
    version = store()
    client = MlflowClient()
    client.delete_model_version_tag(MODEL, version, registry.tag(DIGEST_TAG))

    with pytest.raises(RegistryError, match=rf"model 'churn' v{version}: no SHA-256 is recorded "
                       rf"for models:/churn/{version} \(tag airflow_mlops.{DIGEST_TAG}\).*"
                       rf"`airflow-mlops models trust churn {version} --reason ...`"):
        fetch(version, tmp_path / "before")

    trusted = trust_version(client, MODEL, version, reason="reviewed the skops file", by="ana")
    fetched = fetch(version, tmp_path / "after")

    assert trusted["digest"] == fetched.digest == folder_digest(fetched.path)
    tags = client.get_model_version(MODEL, version).tags
    assert tags[registry.tag(DIGEST_TAG)] == fetched.digest
    assert json.loads(tags[registry.tag(TRUST_TAG)]) == {
        "by": "ana", "reason": "reviewed the skops file", "digest": fetched.digest}


def test_a_version_with_a_recorded_digest_cannot_be_trusted_over_it(store):
    version = store()

    with pytest.raises(RegistryError, match=rf"v{version}: a SHA-256 is already recorded"):
        trust_version(MlflowClient(), MODEL, version, reason="r", by="me")


def test_a_failed_smoke_check_records_no_digest_and_the_training_one_still_binds(
        store, sample, tmp_path):
    version = store()
    with pytest.raises(SmokeCheckError):
        smoke(sample.drop(columns=["region"]), version)
    requirements(version).write_text("evil-package==6.6.6\n")

    with pytest.raises(RegistryError, match=r"changed since training \(sha256 "):
        fetch(version, tmp_path)


def test_verify_smoke_checked_tells_never_checked_from_passed_and_refuses_failed(
        store, sample, tmp_path):
    passed, failed = store(), store()
    assert verify_smoke_checked(MlflowClient(), fetch(passed, tmp_path / "before")) is False
    smoke(sample, passed)
    with pytest.raises(SmokeCheckError):
        smoke(sample.drop(columns=["region"]), failed)

    assert verify_smoke_checked(MlflowClient(), fetch(passed, tmp_path / "after")) is True
    with pytest.raises(RegistryError, match=rf"v{failed}: failed its smoke check \(.*region"):
        verify_smoke_checked(MlflowClient(), fetch(failed, tmp_path / "failed"))
