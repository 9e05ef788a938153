"""MLflow credentials come only from the Airflow connection and are masked in task logs."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SECRET = "s3cr3t-Pa55w0rd-never-logged"


def test_no_credentials_in_dag_files_or_configs():
    """DAG files and model configs name a connection id, never a password or a token."""
    pattern = re.compile(r"(password|token|secret|MLFLOW_TRACKING_(PASSWORD|TOKEN))\s*[:=]",
                         re.IGNORECASE)
    for path in [*(REPO / "dags").glob("*.py"), *(REPO / "dags").glob("*.yaml")]:
        assert not pattern.search(path.read_text()), f"{path} holds a credential"


PROBE_DAG = """
import datetime as dt

from airflow.sdk import DAG, task

from airflow_mlops.hooks.mlflow import MlflowHook

with DAG("security_masking_probe", schedule=None, start_date=dt.datetime(2026, 1, 1)) as dag:

    @task
    def careless() -> dict:
        from airflow.sdk.log import _secrets_masker

        hook = MlflowHook()
        target = hook.get_target()
        with hook.session():
            hook.get_client().search_experiments()
        # What the worker's log pipeline makes of a line that names the credential.
        line = f"target password is {target.password}"
        return {"user": target.username, "as_logged": _secrets_masker().redact(line)}

    careless()
"""


@pytest.mark.e2e
def test_connection_password_is_masked_in_the_task_log(airflow_db, tracking_uri, monkeypatch,
                                                        capfd, dag_bundle):
    """Resolving the MLflow connection registers its password with the secrets masker.

    ``dag.test()`` prints task output without the worker's redacting log pipeline, so this
    test asks the masker what it would log; ``tests/stack`` reads a real task log through the
    REST API and checks the password is absent there.
    """
    import runpy

    folder = dag_bundle
    (folder / "security_probe.py").write_text(PROBE_DAG)
    monkeypatch.setenv("AIRFLOW_CONN_MLFLOW_DEFAULT", json.dumps({
        "conn_type": "mlflow", "host": tracking_uri, "login": "svc", "password": SECRET}))
    dag = runpy.run_path(str(folder / "security_probe.py"))["dag"]

    run = dag.test(logical_date=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
    out, err = capfd.readouterr()
    text = out + err
    assert run.state == "success", text[-3000:]
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = session.scalars(XComModel.get_many(
            run_id=run.run_id, dag_ids=dag.dag_id, task_ids="careless", key="return_value"
        )).first()
        value = XComModel.deserialize_value(row)
    assert value == {"user": "svc", "as_logged": "target password is ***"}
