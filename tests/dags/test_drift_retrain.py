"""Retraining that monitoring requests, end to end through the Airflow metadata DB.

A night of the retrain template makes a champion; a drift monitor run then checks a window
and its ``request_retrain`` task emits the model's retrain asset event. The event (with the
checks' summaries in its extra) is read back from the metadata DB, the scheduler's own
asset-triggered path (``SchedulerJobRunner._create_dagruns_for_dags``, then
``_start_queued_dagruns``) turns it into a retrain run, and that run is executed with the
loop dag.test() uses: it trains on the requesting window's partition and compares the
challenger with the champion. A second test requests a retrain by decay of a custom metric
on a labelled window.

Both DAGs come from the templates, through a DAG file and a config written into a DAG
bundle under tmp_path (dag.test() needs its DAG in a configured bundle). Model names are
unique to each test, so their retrain assets are too.
"""

from __future__ import annotations

import datetime as dt
import json
import runpy
import time
from pathlib import Path

import pytest
import yaml

from airflow_mlops.core.registry import CHAMPION, alias_version, tag

REPO = Path(__file__).resolve().parents[2]
DAYS = [dt.datetime(2026, 4, day, tzinfo=dt.timezone.utc) for day in (1, 2)]
FEATURES = ["tenure_months", "monthly_charges", "support_calls", "contract", "region"]
BRIER = {"function": "sklearn.metrics.brier_score_loss", "greater_is_better": False,
         "needs_proba": True}
DAG_FILE = """\
from airflow_mlops.core.config import load_model_config
from airflow_mlops.templates.drift import build_drift_dag
from airflow_mlops.templates.retrain import build_retrain_dag

config = load_model_config({config!r})
retrain = build_retrain_dag(config, dag_id="retrain_" + config.name)
monitor = build_drift_dag(config, dag_id="monitor_" + config.name)
"""

pytestmark = pytest.mark.e2e


@pytest.fixture
def loop(airflow_db, mlflow_connection, churn_suite, tmp_path, dag_bundle):
    """make(name, **overrides): the retrain and monitor DAGs of a model config in a bundle."""
    folder = dag_bundle

    def make(name: str, **overrides):
        config = {
            "name": name, "start_date": "2026-01-01",
            "data_uri": f"{tmp_path}/data/ds={{{{ ds }}}}/customers.csv",
            "target": "churned", "features": FEATURES, "suite": str(churn_suite),
            "estimator": {"class": "sklearn.linear_model.LogisticRegression",
                          "params": {"max_iter": 500}},
            "holdout_fraction": 0.3, "seed": 7,
            **overrides,
        }
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(config))
        (folder / f"{name}.py").write_text(DAG_FILE.format(config=str(tmp_path / f"{name}.yaml")))
        dags = runpy.run_path(str(folder / f"{name}.py"))
        return dags["retrain"], dags["monitor"]

    return make


def xcom(dag_id: str, run_id: str, task_id: str):
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = session.query(XComModel).filter_by(dag_id=dag_id, run_id=run_id, task_id=task_id,
                                                 key="return_value").first()
        return None if row is None else row.value


def queued_for(dag_id: str) -> list[int]:
    """Asset ids in the AssetDagRunQueue of ``dag_id``: events waiting to trigger it."""
    from airflow.models.asset import AssetDagRunQueue
    from airflow.utils.session import create_session

    with create_session() as session:
        return [row.asset_id for row in
                session.query(AssetDagRunQueue).filter_by(target_dag_id=dag_id)]


def unpause(dag_id: str) -> None:
    """What ``airflow dags unpause`` does: only unpaused DAGs are queued by asset events."""
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session

    with create_session() as session:
        session.query(DagModel).filter_by(dag_id=dag_id).update({"is_paused": False})


def schedule_asset_triggered_runs(dag_id: str) -> None:
    """The scheduler loop's run creation, then its start of queued runs until ``dag_id``'s is.

    A queued run starts once its run_after has passed by the database's clock (whole
    seconds on SQLite), so starting is retried for a few seconds, as later loops would.
    """
    from airflow.jobs.job import Job
    from airflow.jobs.scheduler_job_runner import SchedulerJobRunner
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from airflow.utils.sqlalchemy import prohibit_commit
    from airflow.utils.state import DagRunState

    runner = SchedulerJobRunner(job=Job(), num_runs=1)
    with create_session() as session:
        with prohibit_commit(session) as guard:
            runner._create_dagruns_for_dags(guard, session)
    for _ in range(20):
        with create_session() as session:
            runner._start_queued_dagruns(session)
        with create_session() as session:
            if not session.query(DagRun).filter_by(dag_id=dag_id,
                                                   state=DagRunState.QUEUED).count():
                return
        time.sleep(0.5)


def test_a_drift_event_triggers_a_retrain_that_trains_and_compares(
        loop, customers, tmp_path, mlflow_connection, task_states, run_tasks, land, shifted,
        retrain_events):
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from airflow.utils.types import DagRunType
    from mlflow import MlflowClient

    client = MlflowClient(mlflow_connection, mlflow_connection)
    retrain, monitor = loop("churn_drift", drift={
        "trigger": {"windows": 1, "min_drifted": 1, "cooldown_hours": 24}})
    data, third = tmp_path / "data", len(customers) // 3
    land(customers.iloc[:third], data, DAYS[0])
    assert retrain.test(logical_date=DAYS[0]).state == "success"
    assert alias_version(client, "churn_drift", CHAMPION) == "1"
    unpause(retrain.dag_id)

    land(shifted(customers.iloc[third: 2 * third]), data, DAYS[1])
    checked = monitor.test(logical_date=DAYS[1])

    assert checked.state == "success"
    assert task_states(checked)["request_retrain"] == "success"
    (event,) = retrain_events("churn_drift")
    assert (event.source_dag_id, event.source_task_id) == (monitor.dag_id, "request_retrain")
    assert event.extra["requested_by"] == ["drift"] and event.extra["window"]["ds"] == "2026-04-02"
    summary = event.extra["monitors"]["drift"]
    assert summary["drifted"] is True and summary["champion_version"] == "1"
    assert summary["per_column"]["tenure_months"]["drifted"] is True
    assert queued_for(retrain.dag_id) == [event.asset_id]

    schedule_asset_triggered_runs(retrain.dag_id)

    assert queued_for(retrain.dag_id) == []
    with create_session() as session:
        (run,) = session.query(DagRun).filter_by(dag_id=retrain.dag_id,
                                                 run_type=DagRunType.ASSET_TRIGGERED).all()
        assert [e.id for e in run.consumed_asset_events] == [event.id]
        assert (run.state, run.logical_date) == ("running", None)
        run_id = run.run_id
    finished = run_tasks(retrain, run_id)

    states = task_states(finished)
    assert finished.state == "success", states
    assert states["train"] == states["evaluate"] == "success"
    trained = xcom(retrain.dag_id, run_id, "train")
    assert trained["version"] == "2" and trained["reused"] is False
    assert client.get_model_version("churn_drift", "2").tags[tag("data_uri")] == str(
        data / "ds=2026-04-02" / "customers.csv")
    decision = xcom(retrain.dag_id, run_id, "evaluate")
    assert (decision["challenger_version"], decision["champion_version"]) == ("2", "1")
    assert decision["verdict"] in ("promote", "reject")
    assert decision["champion_metrics"]["roc_auc"] > 0


def test_decay_of_a_custom_metric_on_labelled_windows_requests_a_retrain(
        loop, customers, tmp_path, mlflow_connection, task_states, run_tasks, land,
        retrain_events):
    from mlflow import MlflowClient

    retrain, monitor = loop(
        "churn_quality",
        promotion={"primary_metric": "brier", "custom_metrics": {"brier": BRIER}},
        drift={"quality": {"data_uri": f"{tmp_path}/labels/ds={{{{ ds }}}}/labels.csv",
                           "max_decay": 0.02},
               "trigger": {"windows": 1, "min_drifted": 1}},
    )
    data, third = tmp_path / "data", len(customers) // 3
    land(customers.iloc[:third], data, DAYS[0])
    assert retrain.test(logical_date=DAYS[0]).state == "success"
    window = customers.iloc[third: 2 * third].copy()
    land(window, data, DAYS[1])
    window["churned"] = 1 - window["churned"]  # the champion's predictions now mostly miss
    land(window, tmp_path / "labels", DAYS[1], "labels.csv")

    checked = monitor.test(logical_date=DAYS[1])

    states = task_states(checked)
    assert checked.state == "success", states
    assert states["check_quality"] == states["request_retrain"] == "success"
    quality = xcom(monitor.dag_id, checked.run_id, "check_quality")
    assert (quality["metric"], quality["drifted"], quality["greater_is_better"]) == (
        "brier", True, False)
    assert quality["value"] > quality["baseline"] + 0.02
    assert quality["verdict"]["outcome"] == "warn"
    (event,) = retrain_events("churn_quality")
    assert "quality" in event.extra["requested_by"]
    assert event.extra["reasons"]["quality"] == "1 of the last 1 windows decayed (1 of 1 needed)"
    assert event.extra["monitors"]["quality"]["decay"] == quality["decay"]
    client = MlflowClient(mlflow_connection, mlflow_connection)
    record = json.loads(client.get_model_version("churn_quality", "1").tags[
        tag("decision_record")])
    assert quality["baseline"] == record["challenger_metrics"]["brier"]



MONTHS = [dt.datetime(2026, month, 1, tzinfo=dt.timezone.utc) for month in (1, 2, 3, 4)]


@pytest.mark.parametrize(("name", "cooldown", "requests"), [
    ("monthly_windows", {"cooldown_windows": 1}, ["success", "skipped", "success"]),
    # the negative control: a cooldown in hours written for daily windows lets every month ask
    ("monthly_hours", {"cooldown_hours": 24}, ["success", "success", "success"]),
])
def test_a_monthly_monitor_cools_down_for_a_window(loop, customers, tmp_path, task_states, land,
                                                   shifted, retrain_events, name, cooldown,
                                                   requests):
    retrain, monitor = loop(name, schedule="@monthly", drift={
        "schedule": "@monthly", "trigger": {"windows": 1, "min_drifted": 1, **cooldown}})
    data, quarter = tmp_path / "data", len(customers) // 4
    land(customers.iloc[:quarter], data, MONTHS[0])
    assert retrain.test(logical_date=MONTHS[0]).state == "success"

    states = []
    for number, first_day in enumerate(MONTHS[1:], start=1):
        land(shifted(customers.iloc[number * quarter: (number + 1) * quarter]), data, first_day)
        run = monitor.test(logical_date=first_day)
        assert run.state == "success"
        states.append(task_states(run)["request_retrain"])

    assert states == requests  # February and March drifted in a row; April again
    requested = [f"{day:%Y-%m-%d}" for day, state in zip(MONTHS[1:], requests, strict=True)
                 if state == "success"]
    assert sorted(e.extra["window"]["ds"] for e in retrain_events(name)) == requested
