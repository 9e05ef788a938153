"""A model config cannot pull an environment secret into a DAG: only allowed variables expand."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import yaml

from airflow_mlops.cli.config import check
from airflow_mlops.templates.drift import build_drift_dag
from airflow_mlops.templates.factory import BROKEN_TAG, build_dags
from airflow_mlops.templates.retrain import build_retrain_dag

REPO = Path(__file__).resolve().parents[2]
SECRET = "s3cr3t-Pa55w0rd-of-the-connection"
VARIABLE = "AIRFLOW_CONN_MLFLOW_DEFAULT"


def churn_config(**changes) -> dict:
    config = yaml.safe_load((REPO / "dags" / "models" / "churn.yaml").read_text())
    return {**config, "suite": str(REPO / "expectations" / "churn.json"), **changes}


def config_with(field: str, reference: str) -> dict:
    uri = f"{reference}/ds={{{{ ds }}}}/customers.csv"
    if field == "drift.data_uri":
        return churn_config(drift={"data_uri": uri})
    if field == "deployment.export_uri":
        return churn_config(deployment={"export_uri": uri})
    return churn_config(data_uri=uri)


@pytest.fixture
def folder(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv(VARIABLE, f"mlflow://svc-airflow:{SECRET}@mlflow.example.com")
    monkeypatch.setenv("AIRFLOW_MLOPS_DATA_ROOT", str(tmp_path / "data"))
    (tmp_path / "upsell.yaml").write_text(yaml.safe_dump(churn_config(name="upsell")))
    return tmp_path


def serialized_dags(folder: Path) -> tuple[dict, str]:
    from airflow.serialization.serialized_objects import DagSerialization

    dags = [*build_dags(build_retrain_dag, folder, dag_id_prefix="nightly_retrain"),
            *build_dags(build_drift_dag, folder, dag_id_prefix="drift_monitor")]
    return ({dag.dag_id: dag for dag in dags},
            json.dumps([DagSerialization.to_dict(dag) for dag in dags], default=str))


@pytest.mark.parametrize("field", ["data_uri", "drift.data_uri", "deployment.export_uri"])
@pytest.mark.parametrize("reference", [f"${{{VARIABLE}}}", f"${VARIABLE}"])
def test_a_secret_variable_never_reaches_the_dag_or_a_log(folder, field, reference, caplog,
                                                          capsys):
    (folder / "churn.yaml").write_text(yaml.safe_dump(config_with(field, reference)))
    caplog.set_level(logging.DEBUG)

    dags, serialized = serialized_dags(folder)
    code, lines = check([folder / "churn.yaml"])

    assert BROKEN_TAG in dags["nightly_retrain_churn"].tags
    assert BROKEN_TAG not in dags["nightly_retrain_upsell"].tags
    error = f"field '{field}' (line "
    assert error in dags["nightly_retrain_churn"].description
    assert f"environment variable '{VARIABLE}' may not be used in a config" in lines[0]
    assert code == 1
    assert SECRET not in serialized
    captured = capsys.readouterr()
    assert SECRET not in caplog.text + captured.out + captured.err + "\n".join(lines)
    assert all(SECRET not in record.getMessage() for record in caplog.records)


def test_negative_control_an_allowed_variable_reaches_the_serialized_dag(folder, monkeypatch):
    monkeypatch.setenv("AIRFLOW_MLOPS_CONFIG_ENV_ALLOW", VARIABLE)
    (folder / "churn.yaml").write_text(yaml.safe_dump(config_with("data_uri", f"${VARIABLE}")))

    dags, serialized = serialized_dags(folder)

    assert BROKEN_TAG not in dags["nightly_retrain_churn"].tags
    assert SECRET in serialized  # what expanding every variable, as before, leaked


def test_product_variables_expand(folder, tmp_path):
    (folder / "churn.yaml").write_text(yaml.safe_dump(churn_config()))

    dags, _ = serialized_dags(folder)

    assert dags["nightly_retrain_churn"].get_task("validate").data_uri.startswith(
        str(tmp_path / "data"))
