"""A registry tag is never a path to read: the drift reference a champion's tags name is read
only inside the model's data folder and only with its recorded fingerprint or digest, and
nothing of a refused file reaches MLflow (real MLflow store, real Evidently)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from airflow_mlops.core import registry
from airflow_mlops.core.drift import DriftOptions, UntrustedReferenceError, monitor_drift
from airflow_mlops.core.drift_history import Window
from airflow_mlops.core.failure import FailurePolicy
from airflow_mlops.core.io import file_digest, fingerprint

LEAKED = "LEAKED-7f3a"  # a value only the file that must not be read holds
WINDOW = Window(dt.datetime(2026, 3, 2, tzinfo=dt.timezone.utc),
                dt.datetime(2026, 3, 3, tzinfo=dt.timezone.utc), "2026-03-02")


def frame(plans: list[str], seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"tenure": rng.normal(0, 1, 300), "plan": rng.choice(plans, 300)})


@pytest.fixture
def lake(mlflow_session, tmp_path) -> Path:
    """``data/churn`` (this model's folder, with its training data), ``data/fraud`` (another
    model's data, holding :data:`LEAKED`) and a window."""
    churn, fraud = tmp_path / "data" / "churn", tmp_path / "data" / "fraud"
    churn.mkdir(parents=True)
    fraud.mkdir(parents=True)
    frame(["a", "b"], 1).to_csv(churn / "train.csv", index=False)
    frame([LEAKED, "b"], 2).to_csv(fraud / "train.csv", index=False)
    frame(["a", "b"], 3).to_csv(tmp_path / "window.csv", index=False)
    return tmp_path


def champion(data_uri: str, *, recorded: Path | None = None, **tags: str | None) -> None:
    """A champion of ``churn`` whose tags name ``data_uri`` and, unless given as None, the
    fingerprint and digest of ``recorded`` (by default the file ``data_uri`` names)."""
    from mlflow import MlflowClient

    recorded = recorded or Path(data_uri)
    values = {"data_uri": data_uri,
              "data_fingerprint": fingerprint(pd.read_csv(recorded)) if recorded.suffix == ".csv"
              else "0" * 16,
              "data_digest": file_digest(recorded)} | tags
    client = MlflowClient()
    client.create_registered_model("churn")
    version = client.create_model_version(
        "churn", "file:///nowhere",
        tags={registry.tag(k): v for k, v in values.items() if v is not None}).version
    client.set_registered_model_alias("churn", registry.CHAMPION, version)


def check(lake: Path, roots: list[str]):
    return monitor_drift(
        model_name="churn", experiment_name="airflow-mlops/churn", window=WINDOW,
        data_uri=str(lake / "window.csv"), target=None, features=None,
        options=DriftOptions(sample_size=100), policy=FailurePolicy(on_failure="warn"),
        lineage={}, reference_roots=roots, artifact_location=str(lake / "artifacts"),
    )


def stored_text(tmp_path: Path) -> str:
    """Everything MLflow holds: every run's tags and artifacts (Parquet files as CSV)."""
    from mlflow import MlflowClient

    client = MlflowClient()
    texts = []

    def walk(run_id: str, folder: str | None = None) -> None:
        for item in client.list_artifacts(run_id, folder):
            if item.is_dir:
                walk(run_id, item.path)
                continue
            local = Path(client.download_artifacts(run_id, item.path, str(tmp_path / run_id)))
            texts.append(pd.read_parquet(local).to_csv() if local.suffix == ".parquet"
                         else local.read_text(errors="replace"))

    for experiment in client.search_experiments():
        for run in client.search_runs([experiment.experiment_id]):
            texts.extend(f"{k}={v}" for k, v in run.data.tags.items())
            walk(run.info.run_id)
    return "\n".join(texts)


def monitoring_runs() -> int:
    from mlflow import MlflowClient

    experiment = MlflowClient().get_experiment_by_name("airflow-mlops/churn/monitoring")
    return 0 if experiment is None else len(
        MlflowClient().search_runs([experiment.experiment_id]))


@pytest.mark.parametrize("named, recorded", [
    ("/etc/passwd", "/etc/passwd"),
    ("{lake}/data/fraud/train.csv", None),
    ("{lake}/data/churn/../fraud/train.csv", "{lake}/data/fraud/train.csv"),
    ("{lake}/data/churn/%2e%2e/fraud/train.csv", "{lake}/data/fraud/train.csv"),
    ("{lake}/data/churn-old/train.csv", "{lake}/data/fraud/train.csv"),
    ("{lake}/data/churn/link.csv", "{lake}/data/fraud/train.csv"),
])
def test_a_tag_naming_data_outside_the_models_folder_is_refused_and_nothing_stored(
        lake, tmp_path, named, recorded):
    (lake / "data" / "churn-old").symlink_to(lake / "data" / "fraud")
    (lake / "data" / "churn" / "link.csv").symlink_to(lake / "data" / "fraud" / "train.csv")
    # The attacker records the target's own fingerprint and digest: only the folder stops it.
    champion(named.format(lake=lake),
             recorded=Path((recorded or named).format(lake=lake)))

    with pytest.raises(UntrustedReferenceError, match=(
            r"model 'churn' champion v1: tag airflow_mlops.data_uri names .* not inside a "
            r"folder a reference may be read from .*set drift.reference_uri")):
        check(lake, [str(lake / "data" / "churn")])

    assert monitoring_runs() == 0
    stored = stored_text(tmp_path / "downloads")
    assert LEAKED not in stored and "root:" not in stored


def test_negative_control_the_same_tag_inside_an_allowed_folder_puts_its_rows_in_mlflow(
        lake, tmp_path):
    champion(str(lake / "data" / "fraud" / "train.csv"))

    checked = check(lake, [str(lake / "data")])

    assert checked.summary["drifted"] is not None
    assert LEAKED in stored_text(tmp_path / "downloads")


def test_a_version_without_fingerprint_and_digest_is_refused_with_the_fix(lake, tmp_path):
    champion(str(lake / "data" / "fraud" / "train.csv"), data_fingerprint=None,
             data_digest=None)

    with pytest.raises(UntrustedReferenceError) as refused:
        check(lake, [str(lake / "data")])

    message = str(refused.value)
    assert ("comes with no recorded fingerprint or digest (tags airflow_mlops.data_fingerprint, "
            "airflow_mlops.data_digest), so nothing shows it is the data") in message
    assert "Promote a version the retrain DAG registered" in message
    assert "set drift.reference_uri in the model config" in message
    assert monitoring_runs() == 0
    assert LEAKED not in stored_text(tmp_path / "downloads")


def test_negative_control_a_legitimate_reference_is_compared(lake):
    champion(str(lake / "data" / "churn" / "train.csv"))

    checked = check(lake, [str(lake / "data" / "churn")])

    assert checked.summary["drifted"] is False
    assert checked.summary["rows"]["reference"] == 300


def test_a_file_changed_after_its_digest_was_recorded_is_refused_before_it_is_read(
        lake, tmp_path, monkeypatch):
    from airflow_mlops.core import drift

    train = lake / "data" / "churn" / "train.csv"
    champion(str(train), data_fingerprint=None)  # versions registered with a digest only
    frame([LEAKED, "b"], 2).to_csv(train, index=False)

    def never(*args, **kwargs):
        raise AssertionError("the changed reference was read")

    monkeypatch.setattr(drift, "read_table", never)
    monkeypatch.setattr(drift, "read_sample", never)
    checked = check(lake, [str(lake / "data" / "churn")])

    assert checked.summary["drifted"] is None
    assert f"{train}: changed since model 'churn' v1 was trained on it (SHA-256" in (
        checked.summary["error"])
    assert LEAKED not in stored_text(tmp_path / "downloads")
