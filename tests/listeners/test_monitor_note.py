"""The note of a drift-monitor run: unit cases, and real windows run with dag.test()."""

from __future__ import annotations

import datetime as dt
import runpy
from pathlib import Path

import pytest

from airflow_mlops.listeners.monitor_note import monitor_note
from airflow_mlops.listeners.night_note import night_note

REPO = Path(__file__).resolve().parents[2]
DAYS = [dt.datetime(2026, 7, day, tzinfo=dt.timezone.utc) for day in (1, 2, 3, 4)]
DRIFT = {"monitor": "drift", "drifted": False, "share": 1 / 6, "drift_share": 0.5,
         "drifted_columns": 1, "columns": 6}


def test_a_calm_window_says_how_little_drifted():
    xcoms = {("check_drift", "return_value"): DRIFT}
    assert night_note(xcoms, []) == "no drift: 1 of 6 columns drifted (share 0.17 < 0.5)"


def test_a_drifted_window_says_whether_a_retrain_was_requested():
    drifted = {**DRIFT, "drifted": True, "share": 4 / 6, "drifted_columns": 4}
    xcoms = {("check_drift", "return_value"): drifted}
    assert monitor_note(xcoms, []) == ("drift: 4 of 6 columns drifted (share 0.67 >= 0.5); "
                                       "no retrain requested")
    xcoms[("request_retrain", "return_value")] = {"requested": True}
    assert monitor_note(xcoms, []).endswith("; retrain requested")


def test_quality_and_failures_are_named():
    quality = {"monitor": "quality", "drifted": True, "metric": "roc_auc", "value": 0.71,
               "baseline": 0.8}
    xcoms = {("check_drift", "return_value"): DRIFT, ("check_quality", "return_value"): quality}
    assert monitor_note(xcoms, ["check_quality", "fail_run_if_a_task_failed"]) == (
        "blocked: check_quality failed; no drift: 1 of 6 columns drifted (share 0.17 < 0.5); "
        "quality decayed: roc_auc 0.710 vs 0.800 at training; no retrain requested")
    assert monitor_note({}, ["wait_for_data", "fail_run_if_a_task_failed"]) == \
        "blocked: wait_for_data failed"
    assert monitor_note({}, ["smoke_check"]) is None, "a retrain night is not a monitor run"


@pytest.mark.e2e
def test_each_drift_window_run_carries_what_it_decided(airflow_db, mlflow_connection, tmp_path,
                                                       monkeypatch, customers, night_notes,
                                                       land, shifted):
    monkeypatch.setenv("AIRFLOW_MLOPS_DATA_ROOT", str(tmp_path / "data"))
    (retrain,) = runpy.run_path(str(REPO / "dags" / "nightly_retrain.py"))["dags"]
    (monitor,) = runpy.run_path(str(REPO / "dags" / "drift_monitor.py"))["dags"]
    data, size = tmp_path / "data" / "customers", len(customers) // 4
    land(customers.iloc[:size], data, DAYS[0])
    assert retrain.test(logical_date=DAYS[0]).state == "success"

    windows = [customers.iloc[size:2 * size], shifted(customers.iloc[2 * size:3 * size]),
               shifted(customers.iloc[3 * size:])]
    notes = []
    for frame, day in zip(windows, DAYS[1:], strict=True):
        land(frame, data, day)
        run = monitor.test(logical_date=day)
        assert run.state == "success"
        notes.append(night_notes(run))

    calm, first_drift, second_drift = notes
    assert calm.startswith("no drift: ") and "< 0.5)" in calm, calm
    assert first_drift.startswith("drift: ") and first_drift.endswith("; no retrain requested")
    assert second_drift.startswith("drift: ") and second_drift.endswith("; retrain requested")
