from __future__ import annotations

import datetime

import pytest
from airflow.sdk.exceptions import AirflowFailException, AirflowSensorTimeout, TaskDeferred

from airflow_mlops.sensors.data import DataPartitionSensor
from airflow_mlops.triggers.data import DataPartitionTrigger


def make_sensor(uri: str, **kwargs) -> DataPartitionSensor:
    return DataPartitionSensor(task_id="wait_for_data", uri=uri, **kwargs)


def test_uri_is_templated():
    assert "uri" in DataPartitionSensor.template_fields


def test_poke(tmp_path):
    sensor = make_sensor(str(tmp_path / "day.csv"), min_rows=1)
    assert not sensor.poke({})
    (tmp_path / "day.csv").write_text("a,b\n")
    assert not sensor.poke({})
    (tmp_path / "day.csv").write_text("a,b\n1,2\n")
    assert sensor.poke({})


def test_poke_fails_on_a_directory(tmp_path):
    with pytest.raises(AirflowFailException, match="is a directory"):
        make_sensor(str(tmp_path)).poke({})


def test_poke_mode_returns_once_data_is_there(tmp_path):
    (tmp_path / "day.parquet").write_bytes(b"PAR1")
    assert make_sensor(str(tmp_path / "day.parquet"), mode="poke").execute({}) is None


def test_poke_mode_times_out_when_data_never_lands(tmp_path):
    sensor = make_sensor(str(tmp_path / "day.csv"), mode="poke", poke_interval=0, timeout=0)
    with pytest.raises(AirflowSensorTimeout):
        sensor.execute({})


def test_deferrable_defers_while_the_file_is_missing(tmp_path):
    uri = str(tmp_path / "day.csv")
    sensor = make_sensor(uri, min_rows=5, deferrable=True, poke_interval=30, timeout=600)
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({})
    assert deferred.value.method_name == "execute_complete"
    assert deferred.value.timeout == datetime.timedelta(seconds=600)
    assert isinstance(deferred.value.trigger, DataPartitionTrigger)
    assert deferred.value.trigger.serialize()[1] == {
        "uri": uri, "min_bytes": 1, "min_rows": 5, "poll_interval": 30
    }


def test_poll_interval_overrides_poke_interval(tmp_path):
    sensor = make_sensor(str(tmp_path / "day.csv"), deferrable=True, poll_interval=5)
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({})
    assert deferred.value.trigger.poll_interval == 5


def test_deferrable_returns_without_deferring_when_data_is_there(tmp_path):
    (tmp_path / "day.csv").write_text("a,b\n1,2\n")
    assert make_sensor(str(tmp_path / "day.csv"), deferrable=True).execute({}) is None


def test_execute_complete():
    sensor = make_sensor("/data/day.csv")
    sensor.execute_complete({}, {"status": "success", "uri": "/data/day.csv", "reason": "8 bytes"})
    error = {"status": "error", "uri": "/data/day.csv", "message": "/data/day.csv: is a directory"}
    with pytest.raises(AirflowFailException, match=r"wait_for_data: waiting for /data/day\.csv "
                       r"failed: /data/day\.csv: is a directory"):
        sensor.execute_complete({}, error)
