"""DriftCheckOperator and RequestRetrainOperator, executed with a task context and real MLflow."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from airflow_mlops.core import registry
from airflow_mlops.core.errors import ConfigError
from airflow_mlops.core.io import fingerprint
from airflow_mlops.operators.drift import (
    DriftCheckOperator,
    RequestRetrainOperator,
    earlier_requests,
    monitoring_window,
)
from airflow_mlops.operators.links import REPORT_XCOM_KEY, ReportLink
from airflow_mlops.templates.drift import retrain_asset

MODEL = "churn"
EXPERIMENT = "airflow-mlops/churn"
DAY = dt.timedelta(days=1)
ASSET = retrain_asset(MODEL)


class TaskInstance(SimpleNamespace):
    """What the operators use of a task instance: ids and XCom."""

    def __init__(self, pulled: dict | None = None):
        super().__init__(dag_id="drift_monitor_churn", run_id="scheduled__x", task_id="check",
                         map_index=-1, pushed={}, pulled=pulled or {})

    def xcom_push(self, key, value):
        self.pushed[key] = value

    def xcom_pull(self, task_ids):
        return self.pulled.get(task_ids)


class Events(list):
    """The inlet events accessor: newest first, limited."""

    def ascending(self, ascending):
        return Events(sorted(self, key=lambda e: e.timestamp, reverse=not ascending))

    def limit(self, count):
        return Events(self[:count])


def context(day: int, pulled: dict | None = None, events: list | None = None) -> dict:
    start = dt.datetime(2026, 3, day, tzinfo=dt.timezone.utc)
    return {
        "ti": TaskInstance(pulled),
        "dag_run": SimpleNamespace(run_after=start + DAY),
        "data_interval_start": start,
        "data_interval_end": start + DAY,
        "ds": f"{start:%Y-%m-%d}",
        "inlet_events": {ASSET: Events(events or [])},
        "outlet_events": {ASSET: SimpleNamespace(extra={})},
    }


def window(rows: int, shift: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"tenure": rng.normal(shift, 1, rows), "calls": rng.normal(0, 1, rows),
                         "churned": rng.integers(0, 2, rows)})


@pytest.fixture
def champion(mlflow_connection, tmp_path):
    """A champion whose recorded training data is a reference file in tmp_path."""
    from mlflow import MlflowClient

    path = tmp_path / "train.csv"
    window(1500, 0.0, 1).to_csv(path, index=False)
    client = MlflowClient(mlflow_connection, mlflow_connection)
    client.create_registered_model(MODEL)
    tags = {registry.tag("data_uri"): str(path),
            registry.tag("data_fingerprint"): fingerprint(pd.read_csv(path))}
    version = client.create_model_version(MODEL, "file:///nowhere", tags=tags).version
    client.set_registered_model_alias(MODEL, registry.CHAMPION, version)
    return client


def check_drift(tmp_path: Path, day: int, shift: float, **kwargs) -> tuple[dict, dict]:
    path = tmp_path / f"window-{day}.csv"
    window(1500, shift, day + 10).to_csv(path, index=False)
    kwargs = {"reference_roots": [str(tmp_path)], **kwargs}
    operator = DriftCheckOperator(task_id="check_drift", model_name=MODEL, data_uri=str(path),
                                  experiment_name=EXPERIMENT, target="churned", drift_share=0.3,
                                  **kwargs)
    run = context(day)
    return operator.execute(run), run["ti"].pushed


def test_constructor_rejects_an_unknown_failure_policy():
    with pytest.raises(ConfigError, match="on_failure='explode'"):
        DriftCheckOperator(task_id="check", model_name=MODEL, data_uri="x.csv",
                           experiment_name=EXPERIMENT, on_failure="explode")


def test_operators_declare_templates_links_and_the_asset():
    assert set(DriftCheckOperator.template_fields) == {"data_uri", "table", "where",
                                                       "experiment_name", "reference_uri"}
    assert isinstance(DriftCheckOperator.operator_extra_links[0], ReportLink)
    request = RequestRetrainOperator(task_id="request", model_name=MODEL, retrain_asset=ASSET,
                                     check_task_ids=["check_drift"], experiment_name=EXPERIMENT)
    assert request.outlets == [ASSET] == request.inlets


def test_window_is_the_data_interval_or_the_run_date():
    assert monitoring_window(context(2)).key == (
        "2026-03-02T00:00:00+00:00/2026-03-03T00:00:00+00:00")
    run_after = dt.datetime(2026, 3, 9, 6, tzinfo=dt.timezone.utc)
    manual = {"dag_run": SimpleNamespace(run_after=run_after)}
    assert monitoring_window(manual).ds == "2026-03-09"
    assert monitoring_window(manual).start == run_after


def test_earlier_requests_are_events_that_carry_a_window():
    end = "2026-03-03T00:00:00+00:00"
    events = [SimpleNamespace(extra={"window": {"key": "k", "end": end}}),
              SimpleNamespace(extra={}), SimpleNamespace(extra=None)]

    (request,) = earlier_requests(events)

    assert request.key == "k" and request.end == dt.datetime.fromisoformat(end)


def test_drifted_window_is_summarised_and_reported_then_warned(champion, tmp_path):
    summary, pushed = check_drift(tmp_path, 2, shift=2.0)

    assert summary["drifted"] is True and summary["per_column"]["tenure"]["drifted"]
    assert summary["per_column"]["calls"]["drifted"] is False
    assert summary["verdict"]["outcome"] == "warn"
    assert pushed[REPORT_XCOM_KEY] == summary["report"] == pushed["return_value"]["report"]
    assert Path(summary["report"]).exists()
    # A SQLite store has no web UI: the report opens through the plugin's endpoint.
    assert pushed["mlops_reports"] == {"drift_report.html": summary["report_artifact"]}
    link = pushed["mlops_links"]
    assert link["Report"].startswith("http") and "name=drift_report.html" in link["Report"]
    assert link["MLflow run"] == ""


def test_recorded_data_outside_the_roots_fails_with_the_fix(champion, tmp_path):
    with pytest.raises(AirflowFailException, match=r"not inside a folder a reference may be "
                                                   r"read from \(none.*\[mlops\] reference_roots"):
        check_drift(tmp_path, 2, shift=2.0, reference_roots=[])


def test_config_reference_roots_add_folders(champion, tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW__MLOPS__REFERENCE_ROOTS", f"/elsewhere, {tmp_path}")

    summary, _ = check_drift(tmp_path, 2, shift=2.0, reference_roots=[])

    assert summary["drifted"] is True


def test_fail_policy_fails_after_pushing_the_summary(champion, tmp_path):
    with pytest.raises(AirflowFailException, match="drift of .*window-2.csv.*tenure"):
        check_drift(tmp_path, 2, shift=2.0, on_failure="fail")


def test_dry_run_never_fails(champion, tmp_path):
    summary, _ = check_drift(tmp_path, 2, shift=2.0, on_failure="fail", dry_run=True)

    assert summary["verdict"] == {**summary["verdict"], "outcome": "warn", "enforced": "fail"}


def test_no_champion_skips(mlflow_connection, tmp_path):
    with pytest.raises(AirflowSkipException, match="has no champion yet"):
        check_drift(tmp_path, 2, shift=0.0)


def test_champion_without_recorded_data_fails_with_the_fix(mlflow_connection, tmp_path):
    from mlflow import MlflowClient

    client = MlflowClient(mlflow_connection, mlflow_connection)
    client.create_registered_model(MODEL)
    client.create_model_version(MODEL, "file:///nowhere")
    client.set_registered_model_alias(MODEL, registry.CHAMPION, "1")

    with pytest.raises(AirflowFailException, match="drift.reference_uri"):
        check_drift(tmp_path, 2, shift=0.0)


def request(day: int, summary: dict, events: list | None = None,
            **kwargs) -> tuple[dict | None, dict]:
    operator = RequestRetrainOperator(
        task_id="request_retrain", model_name=MODEL, retrain_asset=ASSET,
        check_task_ids=["check_drift"], experiment_name=EXPERIMENT, **kwargs)
    run = context(day, pulled={"check_drift": summary}, events=events)
    return operator.execute(run), run["outlet_events"][ASSET].extra


def test_confirmed_drift_requests_a_retrain_once_then_cools_down(champion, tmp_path):
    first, _ = check_drift(tmp_path, 2, shift=2.0)
    with pytest.raises(AirflowSkipException, match="1 of the last 1 windows drifted"):
        request(2, first)

    second, _ = check_drift(tmp_path, 3, shift=2.0)
    result, extra = request(3, second)

    assert result["requested"] is True
    assert extra["window"]["ds"] == "2026-03-03" and extra["requested_by"] == ["drift"]
    assert extra["monitors"]["drift"]["per_column"]["tenure"]["drifted"] is True
    emitted = SimpleNamespace(extra=extra, timestamp=dt.datetime(2026, 3, 4))
    with pytest.raises(AirflowSkipException, match="already requested for this window"):
        request(3, second, events=[emitted])
    third, _ = check_drift(tmp_path, 4, shift=2.0)
    with pytest.raises(AirflowSkipException, match="within the 1-window cooldown"):
        request(4, third, events=[emitted])  # windows of the data interval: no cron here
    fourth, _ = check_drift(tmp_path, 5, shift=2.0)
    assert request(5, fourth, events=[emitted])[0]["requested"] is True


def test_a_cooldown_in_windows_without_schedule_or_interval_fails_once(champion, tmp_path):
    summary, _ = check_drift(tmp_path, 2, shift=2.0)
    operator = RequestRetrainOperator(
        task_id="request_retrain", model_name=MODEL, retrain_asset=ASSET,
        check_task_ids=["check_drift"], experiment_name=EXPERIMENT)
    run = context(2, pulled={"check_drift": summary})
    run["data_interval_start"] = run["data_interval_end"]  # a manual run of no interval

    with pytest.raises(AirflowFailException, match="set drift.trigger.cooldown_hours instead"):
        operator.execute(run)


def test_dry_run_requests_nothing(champion, tmp_path):
    summary, _ = check_drift(tmp_path, 2, shift=2.0, dry_run=True)

    with pytest.raises(AirflowSkipException, match="dry run, would request a retrain"):
        request(2, summary, windows=1, min_drifted=1)


def test_nothing_checked_skips(mlflow_connection):
    with pytest.raises(AirflowSkipException, match="no monitor could check this window"):
        request(2, {"monitor": "drift", "drifted": None, "error": "no rows"})


def test_a_window_in_a_table_is_sampled_in_the_database(champion, tmp_path, monkeypatch):
    import json
    import sqlite3

    path = tmp_path / "warehouse.db"
    rows = pd.concat([window(1500, 2.0, 12).assign(day="2026-03-02"),
                      window(1500, 0.0, 13).assign(day="2026-03-03")], ignore_index=True)
    with sqlite3.connect(path) as connection:
        rows.rename_axis("id").reset_index().to_sql("windows", connection, index=False)
    monkeypatch.setenv("AIRFLOW_CONN_WH", json.dumps({"conn_type": "sqlite", "host": str(path)}))
    operator = DriftCheckOperator(task_id="check_drift", model_name=MODEL, table="windows",
                                  where="day = '2026-03-02'", conn_id="wh", key_column="id",
                                  sample_size=400, experiment_name=EXPERIMENT,
                                  reference_roots=[str(tmp_path)],
                                  target="churned", drift_share=0.3)
    summary = operator.execute(context(2))
    assert summary["drifted"] is True and summary["per_column"]["tenure"]["drifted"]
    assert (summary["rows"]["current"], summary["rows"]["sampled_current"]) == (1500, 400)
    assert summary["current"] == "table windows WHERE day = '2026-03-02' on connection wh"


def test_a_window_in_a_postgres_table_is_sampled_in_the_database(champion, tmp_path, postgres,
                                                                 monkeypatch):
    import sqlalchemy as sa

    from airflow_mlops.core.sql_sources import SqlSource

    engine = sa.create_engine(postgres)
    rows = pd.concat([window(1500, 2.0, 12).assign(day="2026-03-02"),
                      window(1500, 0.0, 13).assign(day="2026-03-03")], ignore_index=True)
    rows.rename_axis("id").reset_index().to_sql("windows", engine, schema="public",
                                                index=False, if_exists="replace")
    engine.dispose()
    monkeypatch.setenv("AIRFLOW_CONN_WH", sa.engine.make_url(postgres).set(
        drivername="postgres").render_as_string(hide_password=False))
    delivered, read = [], SqlSource.read

    def counted_read(source, sql):  # the real read, counting the rows the worker received
        frame = read(source, sql)
        delivered.append((sql, len(frame.index)))
        return frame

    monkeypatch.setattr(SqlSource, "read", counted_read)
    operator = DriftCheckOperator(task_id="check_drift", model_name=MODEL,
                                  table="public.windows", where="day = '2026-03-02'",
                                  conn_id="wh", sample_size=400, seed=7,
                                  experiment_name=EXPERIMENT, reference_roots=[str(tmp_path)],
                                  target="churned", drift_share=0.3)
    summary = operator.execute(context(2))
    ((sql, received),) = delivered
    assert "TABLESAMPLE BERNOULLI" in sql and "REPEATABLE(7)" in sql
    assert 250 < received < 600  # about 400 of the window's 1500 rows reached the worker
    assert summary["rows"]["current"] == 1500
    assert summary["rows"]["sampled_current"] == min(received, 400)
    assert summary["drifted"] is True and summary["per_column"]["tenure"]["drifted"]
    assert summary["per_column"]["calls"]["drifted"] is False
    assert summary["current"] == ("table public.windows WHERE day = '2026-03-02' on "
                                  "connection wh")


def test_a_table_needs_its_connection():
    with pytest.raises(ConfigError, match="give data_uri, or table with conn_id"):
        DriftCheckOperator(task_id="check", model_name=MODEL, table="windows",
                           experiment_name=EXPERIMENT)
