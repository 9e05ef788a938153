"""ModelAliasSensor against a real MLflow SQLite registry."""

from __future__ import annotations

import datetime
import json
import runpy

import pytest
from airflow.sdk.exceptions import AirflowFailException, AirflowSensorTimeout, TaskDeferred

from airflow_mlops.sensors.alias import ModelAliasSensor
from airflow_mlops.triggers.alias import ModelAliasTrigger

MODEL = "churn"


@pytest.fixture(scope="module")
def registry_store(tmp_path_factory):
    """A registry with versions 1 and 2 of ``churn``, behind the mlflow_default connection."""
    from mlflow import MlflowClient

    root = tmp_path_factory.mktemp("alias-sensor")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    client = MlflowClient(uri, uri)
    client.create_registered_model(MODEL)
    for version in (1, 2):
        client.create_model_version(MODEL, source=str(root / f"model-{version}"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIRFLOW_CONN_MLFLOW_DEFAULT", json.dumps({"conn_type": "mlflow",
                                                                 "host": uri}))
        yield client


@pytest.fixture
def client(registry_store):
    """The registry with alias ``champion`` unset."""
    registry_store.delete_registered_model_alias(MODEL, "champion")
    return registry_store


def make_sensor(**kwargs) -> ModelAliasSensor:
    return ModelAliasSensor(task_id="wait_for_champion", model_name=MODEL, **kwargs)


def test_known_version_is_templated():
    assert "known_version" in ModelAliasSensor.template_fields


def test_poke_waits_for_the_alias_to_move(client):
    sensor = make_sensor(known_version="1")
    assert not sensor.poke({})
    client.set_registered_model_alias(MODEL, "champion", "1")
    assert not sensor.poke({})

    client.set_registered_model_alias(MODEL, "champion", "2")
    found = sensor.poke({})

    assert found
    assert found.xcom_value == "2"


def test_a_rollback_counts_as_a_move(client):
    client.set_registered_model_alias(MODEL, "champion", "1")
    assert make_sensor(known_version="2").poke({}).xcom_value == "1"


@pytest.mark.parametrize("known", [None, "", "None"])
def test_without_a_known_version_any_set_alias_is_new(client, known):
    sensor = make_sensor(known_version=known)
    assert not sensor.poke({})
    client.set_registered_model_alias(MODEL, "champion", "1")
    assert sensor.poke({}).xcom_value == "1"


def test_watches_other_aliases(client):
    client.set_registered_model_alias(MODEL, "challenger", "2")
    assert make_sensor(alias="challenger", known_version="1").poke({}).xcom_value == "2"


def test_poke_mode_returns_the_new_version(client):
    client.set_registered_model_alias(MODEL, "champion", "2")
    assert make_sensor(known_version="1", mode="poke").execute({}) == "2"


def test_poke_mode_times_out_while_the_alias_stays(client):
    client.set_registered_model_alias(MODEL, "champion", "1")
    sensor = make_sensor(known_version="1", mode="poke", poke_interval=0, timeout=0)
    with pytest.raises(AirflowSensorTimeout):
        sensor.execute({})


def test_deferrable_defers_while_the_alias_stays(client):
    client.set_registered_model_alias(MODEL, "champion", "1")
    sensor = make_sensor(known_version="1", deferrable=True, poke_interval=30, timeout=600)

    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({})

    assert deferred.value.method_name == "execute_complete"
    assert deferred.value.timeout == datetime.timedelta(seconds=600)
    assert isinstance(deferred.value.trigger, ModelAliasTrigger)
    assert deferred.value.trigger.serialize()[1] == {
        "model_name": MODEL, "alias": "champion", "known_version": "1",
        "mlflow_conn_id": "mlflow_default", "poll_interval": 30,
    }


def test_deferrable_passes_an_unrendered_xcom_as_no_version(client):
    sensor = make_sensor(known_version="None", deferrable=True, poll_interval=5)
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({})
    assert deferred.value.trigger.known_version is None
    assert deferred.value.trigger.poll_interval == 5


def test_deferrable_returns_without_deferring_when_the_alias_moved(client):
    client.set_registered_model_alias(MODEL, "champion", "2")
    assert make_sensor(known_version="1", deferrable=True).execute({}) == "2"


def test_execute_complete():
    sensor = make_sensor()
    event = {"status": "success", "model": MODEL, "alias": "champion", "version": "2"}
    assert sensor.execute_complete({}, event) == "2"
    error = {"status": "error", "model": MODEL, "alias": "champion", "message": "no host"}
    with pytest.raises(AirflowFailException, match="wait_for_champion: waiting for "
                       "churn@champion failed: no host"):
        sensor.execute_complete({}, error)


def test_a_connection_without_host_fails_at_once(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_BROKEN", json.dumps({"conn_type": "mlflow"}))
    with pytest.raises(AirflowFailException, match="connection 'broken': host"):
        make_sensor(mlflow_conn_id="broken").poke({})


SENSOR_DAG = """
import datetime as dt

from airflow.sdk import DAG

from airflow_mlops.sensors.alias import ModelAliasSensor

with DAG(dag_id="deploy_on_new_champion", schedule="@daily", catchup=False,
         start_date=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)) as dag:
    ModelAliasSensor(
        task_id="wait_for_champion",
        model_name="churn",
        known_version="{{ ti.xcom_pull(task_ids='wait_for_champion', "
        "include_prior_dates=True) }}",
        mode="poke", poke_interval=0.1, timeout=1, soft_fail=True,
    )
"""


@pytest.mark.e2e
def test_each_run_waits_for_a_version_other_than_the_last_found(
    airflow_db, client, dag_bundle
):
    """The README's pattern: each run waits for a version other than the last one found."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    folder = dag_bundle
    (folder / "deploy.py").write_text(SENSOR_DAG)
    dag = runpy.run_path(str(folder / "deploy.py"))["dag"]

    def run(day: int) -> tuple[str, object]:
        dagrun = dag.test(logical_date=datetime.datetime(2026, 3, day,
                                                         tzinfo=datetime.timezone.utc))
        with create_session() as session:
            (ti,) = dagrun.get_task_instances(session=session)
            row = session.query(XComModel).filter_by(run_id=dagrun.run_id,
                                                     key="return_value").one_or_none()
            return ti.state, None if row is None else row.value

    client.set_registered_model_alias(MODEL, "champion", "1")
    assert run(1) == ("success", "1")
    assert run(2) == ("skipped", None)  # still version 1: waited, timed out softly
    client.set_registered_model_alias(MODEL, "champion", "2")
    assert run(3) == ("success", "2")
