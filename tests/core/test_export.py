"""Exporting a registered version to a serving folder, against a real MLflow store."""

from __future__ import annotations

import json
import re
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient
from mlflow.models import Model

from airflow_mlops.core.errors import PathEscapeError, RegistryError
from airflow_mlops.core.export import MARKER, export_version, read_marker
from airflow_mlops.core.serialization import check_loadable
from airflow_mlops.core.tracking import TrackingTarget, tracking_session
from airflow_mlops.core.training import train_challenger

MODEL = "churn"
FEATURES = ["tenure_months", "monthly_charges", "support_calls", "contract", "region"]
LINEAGE = {"dag_id": "nightly_retrain_churn", "run_id": "scheduled__2026-03-01"}


@pytest.fixture(scope="module")
def versions(tmp_path_factory, customers):
    """Two registered versions in one MLflow store for the module."""
    root = tmp_path_factory.mktemp("export")
    with tracking_session(TrackingTarget(f"sqlite:///{root / 'mlflow.db'}")):
        trained = [
            train_challenger(
                customers.head(200), model_name=MODEL, experiment_name="export",
                target="churned", features=FEATURES, task="classification",
                holdout_fraction=0.3, seed=7, estimator={"class": estimator},
                lineage={**LINEAGE, "run_id": estimator, "data_fingerprint": "f"},
                artifact_location=str(root / "artifacts"),
            )["version"]
            for estimator in ("sklearn.linear_model.LogisticRegression",
                              "sklearn.tree.DecisionTreeClassifier")
        ]
        yield trained


def export(version: str, target) -> dict:
    return export_version(MlflowClient(), model_name=MODEL, version=version, target=target,
                          lineage=LINEAGE)


def test_exports_a_folder_that_loads_and_predicts_like_the_version(versions, tmp_path, customers):
    target = tmp_path / "serving" / "churn"

    result = export(versions[0], target)

    assert result["changed"] is True
    assert (result["model"], result["version"], result["target"]) == (MODEL, "1", str(target))
    check_loadable(Model.load(str(target)).flavors["sklearn"], str(target))
    rows = customers.iloc[300:320][FEATURES]
    exported = mlflow.pyfunc.load_model(str(target)).predict(rows)
    registered = mlflow.pyfunc.load_model(f"models:/{MODEL}/1").predict(rows)
    assert exported.tolist() == registered.tolist()
    marker = read_marker(target)
    assert marker["complete"] is True
    assert (marker["version"], marker["digest"]) == ("1", result["digest"])
    assert marker["exported_by"] == "nightly_retrain_churn/scheduled__2026-03-01"
    assert sorted(p.name for p in target.iterdir()) == sorted([*marker["files"], MARKER])


def test_exporting_the_same_version_again_changes_nothing(versions, tmp_path):
    target = tmp_path / "serving"
    export(versions[0], target)
    stamp = (target / "model.skops").stat().st_mtime_ns

    again = export(versions[0], target)

    assert again["changed"] is False
    assert (target / "model.skops").stat().st_mtime_ns == stamp


def test_a_new_version_replaces_the_old_files(versions, tmp_path):
    target = tmp_path / "serving"
    export(versions[0], target)
    marker = read_marker(target)
    (target / "old_extra.txt").write_text("from the previous export")
    (target / MARKER).write_text(json.dumps({**marker, "files": [*marker["files"],
                                                                 "old_extra.txt"]}))

    result = export(versions[1], target)

    assert result["changed"] is True
    assert not (target / "old_extra.txt").exists()
    assert read_marker(target)["version"] == "2"
    estimator = mlflow.sklearn.load_model(str(target)).steps[-1][1]
    assert type(estimator).__name__ == "DecisionTreeClassifier"


def test_an_interrupted_export_is_completed_by_a_rerun(versions, tmp_path):
    target = tmp_path / "serving"
    export(versions[0], target)
    marker = read_marker(target)
    (target / MARKER).write_text(json.dumps({**marker, "complete": False}))
    (target / "model.skops").write_bytes(b"half written")

    assert export(versions[0], target)["changed"] is True

    assert read_marker(target)["complete"] is True
    mlflow.pyfunc.load_model(str(target))


def test_a_folder_with_other_content_is_never_overwritten(versions, tmp_path):
    target = tmp_path / "shared"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")

    with pytest.raises(RegistryError, match=rf"{target}: is not empty and holds no {MARKER}; "
                       r"refusing to export model 'churn' v1"):
        export(versions[0], target)

    assert [p.name for p in target.iterdir()] == ["notes.txt"]


def test_a_file_as_target_is_refused(versions, tmp_path):
    target = tmp_path / "model.bin"
    target.write_bytes(b"x")

    with pytest.raises(RegistryError, match="is a file, not a folder"):
        export(versions[0], target)


def test_exports_through_a_path_object(versions, tmp_path):
    from upath import UPath

    target = UPath(f"file://{tmp_path}/upath-target")

    assert export(versions[0], target)["changed"] is True
    assert Path(tmp_path / "upath-target" / "MLmodel").exists()


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("listed", ["../victim.txt", "../../victim.txt", "%2e%2e/victim.txt",
                                    "/tmp/victim.txt"])
def test_a_tampered_marker_cannot_delete_outside_the_target(versions, tmp_path, listed):
    target = tmp_path / "serving" / "churn"
    export(versions[0], target)
    victim = tmp_path / "serving" / "victim.txt"
    victim.write_text("precious")
    marker = read_marker(target)
    (target / MARKER).write_text(json.dumps({**marker, "stale": [listed]}))
    before = snapshot(tmp_path / "serving")

    with pytest.raises(PathEscapeError, match=rf"file listed in {MARKER} "
                       rf"{re.escape(repr(listed))} would leave {target}"):
        export(versions[1], target)

    assert victim.read_text() == "precious"
    assert snapshot(tmp_path / "serving") == before  # refused before anything changed


@pytest.mark.parametrize("target", ["{tmp}/serving/../../escaped", "file://{tmp}/serving/%2e%2e/x"])
def test_a_target_with_a_traversal_is_refused(versions, tmp_path, target):
    target = target.format(tmp=tmp_path)

    with pytest.raises(PathEscapeError, match=rf"export target {re.escape(repr(target))}"):
        export(versions[0], target)

    assert list(tmp_path.iterdir()) == []
