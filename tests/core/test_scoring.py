"""Batch scoring with a registered version against a real MLflow store."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient

from airflow_mlops.core.errors import DataError, PathEscapeError, RegistryError
from airflow_mlops.core.scoring import score_batch, write_table
from airflow_mlops.core.smoke import smoke_check

MODEL = "churn"
FEATURES = ["tenure_months", "monthly_charges", "support_calls", "contract", "region"]
LINEAGE = {"dag_id": "nightly_retrain_churn", "run_id": "scheduled__2026-03-01"}
SCORED_AT = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module")
def version(store):
    return store()


@pytest.fixture
def day(tmp_path, customers) -> Path:
    """The interval's data, unlabelled, as CSV."""
    path = tmp_path / "ds=2026-03-01" / "customers.csv"
    path.parent.mkdir()
    customers.iloc[200:240].drop(columns=["churned"]).to_csv(path, index=False)
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def score(version: str, data, output, **kwargs) -> dict:
    arguments = {"key_columns": ["customer_id"], "scored_at": SCORED_AT, **kwargs}
    return score_batch(MlflowClient(), model_name=MODEL, version=version, data=data,
                       output=output, **arguments)


def test_writes_predictions_with_keys_version_and_logical_date(version, day, tmp_path):
    before = digest(day)
    output = tmp_path / "predictions" / "ds=2026-03-01" / "part.parquet"

    result = score(version, day, output)

    written = pd.read_parquet(output)
    assert list(written.columns) == ["customer_id", "prediction", "probability", "model_name",
                                     "model_version", "scored_at"]
    source = pd.read_csv(day)
    model = mlflow.sklearn.load_model(f"models:/{MODEL}/{version}")
    assert written["customer_id"].tolist() == source["customer_id"].tolist()
    assert written["prediction"].tolist() == model.predict(source[FEATURES]).tolist()
    assert written["probability"].tolist() == pytest.approx(
        model.predict_proba(source[FEATURES])[:, 1].tolist()
    )
    assert set(written["model_name"]) == {MODEL}
    assert set(written["model_version"]) == {version}
    assert set(written["scored_at"]) == {pd.Timestamp(SCORED_AT)}
    assert result == {"model": MODEL, "version": version, "rows": 40, "output_uri": str(output),
                      "columns": list(written.columns), "smoke_checked": False}
    assert digest(day) == before
    assert [p.name for p in output.parent.iterdir()] == ["part.parquet"]


def test_writes_csv_and_a_rerun_replaces_it(version, day, tmp_path):
    output = tmp_path / "predictions.csv"

    score(version, day, output)
    score(version, day, output)

    written = pd.read_csv(output)
    assert len(written) == 40
    assert written["scored_at"].unique().tolist() == ["2026-03-01 00:00:00+00:00"]


def test_refuses_to_overwrite_its_input(version, day, tmp_path):
    before = digest(day)
    (tmp_path / "same").symlink_to(day.parent)

    with pytest.raises(DataError, match="is the input data set itself; refusing"):
        score(version, day, tmp_path / "same" / day.name)

    assert digest(day) == before


@pytest.mark.parametrize("output", [
    "predictions/../../outside.parquet",
    "predictions/%2e%2e/outside.parquet",
], ids=["dot-dot", "encoded-dot-dot"])
def test_an_output_that_climbs_out_of_its_folder_is_refused_before_scoring(
        version, day, tmp_path, monkeypatch, output):
    """A rendered param (say ``{{ params.segment }}``) substituted into the output URI may
    not lead the predictions out of the folder the template names."""
    import airflow_mlops.core.scoring as scoring

    fetches = []
    monkeypatch.setattr(scoring, "fetch_version", lambda *a, **k: fetches.append(a))
    target = f"{tmp_path}/{output}"

    with pytest.raises(PathEscapeError, match=rf"scoring output {re.escape(repr(target))}: "):
        score(version, day, target)

    assert fetches == []  # refused before the model is fetched
    assert not (tmp_path.parent / "outside.parquet").exists()
    assert list(tmp_path.rglob("*.parquet")) == []


def test_a_missing_key_column_is_named(version, day, tmp_path):
    with pytest.raises(DataError, match=r"customers\.csv: key column\(s\) account_id not found"):
        score(version, day, tmp_path / "out.parquet", key_columns=["account_id"])
    assert not (tmp_path / "out.parquet").exists()


def test_data_that_misses_a_signature_column_names_model_and_column(version, tmp_path, customers):
    data = tmp_path / "day.parquet"
    customers.head(10).drop(columns=["region"]).to_parquet(data)

    with pytest.raises(DataError, match=rf"day\.parquet: does not match the signature of model "
                       rf"'churn' v{version}: .*region"):
        score(version, data, tmp_path / "out.parquet")


def test_files_changed_after_the_smoke_check_are_refused(store, day, tmp_path, customers):
    version = store()
    smoke_check(customers.head(20), model_name=MODEL, version=version, sample_name="sample",
                lineage=LINEAGE)
    assert score(version, day, tmp_path / "ok.parquet")["smoke_checked"] is True
    artifacts = Path(MlflowClient().get_model_version_download_uri(MODEL, version))
    (artifacts / "requirements.txt").write_text("evil-package==6.6.6\n")

    with pytest.raises(RegistryError, match=rf"model 'churn' v{version}: files of "
                       rf"models:/churn/{version} changed since the smoke check passed"):
        score(version, day, tmp_path / "out.parquet")
    assert not (tmp_path / "out.parquet").exists()


def test_a_version_that_failed_its_smoke_check_is_refused(store, day, tmp_path, customers):
    version = store()
    with pytest.raises(RegistryError):
        smoke_check(customers.head(20).drop(columns=["region"]), model_name=MODEL,
                    version=version, sample_name="sample", lineage=LINEAGE)

    with pytest.raises(RegistryError, match="failed its smoke check"):
        score(version, day, tmp_path / "out.parquet")


def test_write_table_refuses_unknown_file_types(tmp_path):
    with pytest.raises(DataError, match=r"unsupported file type '\.json'"):
        write_table(pd.DataFrame({"a": [1]}), tmp_path / "out.json")
