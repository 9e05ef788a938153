"""The retrain template's promotion as real DAG runs: re-runs, and a human answering approval.

Each test writes the template's DAG file and a variant of its YAML into a DAG bundle under
tmp_path (dag.test() needs the DAG in a configured bundle), with a fresh MLflow store.

Re-runs are tested two ways: clearing tasks of the finished DagRun and running them again in
that same DagRun (the ``run_tasks`` fixture: SerializedDAG.clear + the scheduling loop
dag.test() uses), and dag.test() again with the same logical date and run_after, which
recreates the DagRun under the same run_id with every XCom gone. A human's answer is given
the way the api-server's Human-in-the-loop endpoint gives it, from a second thread while
dag.test() waits.
"""

from __future__ import annotations

import datetime as dt
import runpy
import threading
import time
from pathlib import Path

import pytest
import yaml

from airflow_mlops.core import ledger
from airflow_mlops.core.model_card import read_card
from airflow_mlops.core.registry import CHALLENGER, CHAMPION, alias_version, tag

REPO = Path(__file__).resolve().parents[2]
MODEL = "churn"
NIGHT = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)
DAG_FILE = """\
from pathlib import Path

from airflow_mlops.core.config import load_model_config
from airflow_mlops.templates.retrain import build_retrain_dag

dag = build_retrain_dag(load_model_config(Path(__file__).with_suffix(".yaml")), dag_id={dag_id!r})
"""

pytestmark = pytest.mark.e2e


@pytest.fixture
def retrain(airflow_db, mlflow_connection, tmp_path, dag_bundle, monkeypatch, customers):
    """make(dag_id, **promotion): the template's DAG with promotion changes, one night landed."""
    folder = dag_bundle
    monkeypatch.setenv("AIRFLOW_MLOPS_DATA_ROOT", str(tmp_path / "data"))
    partition = tmp_path / "data" / "customers" / f"ds={NIGHT:%Y-%m-%d}" / "customers.csv"
    partition.parent.mkdir(parents=True)
    customers.head(600).to_csv(partition, index=False)

    def make(dag_id: str, **promotion):
        config = yaml.safe_load((REPO / "dags" / "models" / "churn.yaml").read_text())
        config["suite"] = str(REPO / "expectations" / "churn.json")
        config["promotion"].update(promotion)
        (folder / f"{dag_id}.yaml").write_text(yaml.safe_dump(config))
        (folder / f"{dag_id}.py").write_text(DAG_FILE.format(dag_id=dag_id))
        return runpy.run_path(str(folder / f"{dag_id}.py"))["dag"]

    return make


@pytest.fixture
def client(mlflow_connection):
    from mlflow import MlflowClient

    return MlflowClient(mlflow_connection, mlflow_connection)


def xcom(run, task_id: str, key: str = "return_value"):
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = session.query(XComModel).filter_by(dag_id=run.dag_id, run_id=run.run_id,
                                                 task_id=task_id, key=key).first()
        return None if row is None else row.value


def approval_body(run) -> str:
    """The rendered body of the run's approval request, as the Required Actions page shows."""
    from airflow.models.hitl import HITLDetail
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        ti = session.query(TaskInstance).filter_by(dag_id=run.dag_id, run_id=run.run_id,
                                                   task_id="approve").one()
        return session.query(HITLDetail).filter_by(ti_id=ti.id).one().body


def versions(client) -> list[str]:
    return sorted(str(v.version) for v in client.search_model_versions(f"name='{MODEL}'"))


def test_re_runs_create_no_second_version_and_no_second_alias_move(retrain, client, task_states,
                                                                   run_tasks):
    dag = retrain("retrain_reruns")
    first = dag.test(logical_date=NIGHT, run_after=NIGHT)
    assert first.state == "success"
    assert alias_version(client, MODEL, CHAMPION) == "1"
    entries = ledger.history(client, MODEL)
    assert [(e.alias, e.to_version, e.dag_run_id) for e in entries] == [
        (CHAMPION, "1", first.run_id), (CHALLENGER, "1", first.run_id)]

    again = run_tasks(dag, first.run_id, clear=["train", "evaluate", "route_decision",
                                                 "smoke_check", "promote", "summary"])

    assert again.state == "success"
    states = task_states(again)
    assert {states[t] for t in ("train", "evaluate", "promote", "summary")} == {"success"}
    assert xcom(again, "train")["reused"] is True
    assert xcom(again, "promote")["moved"] is False
    assert versions(client) == ["1"]
    assert ledger.history(client, MODEL) == entries

    replaced = dag.test(logical_date=NIGHT, run_after=NIGHT)  # same run_id, XComs gone

    assert (replaced.state, replaced.run_id) == ("success", first.run_id)
    assert versions(client) == ["1"]
    assert ledger.history(client, MODEL) == entries
    runs = client.search_runs([client.get_experiment_by_name("airflow-mlops/churn").experiment_id])
    assert sorted((r.info.run_name, r.info.status) for r in runs) == [
        (f"churn train {NIGHT:%Y-%m-%d}", "FINISHED"),  # one training, no stray run
        (f"churn validate {NIGHT:%Y-%m-%d}", "FINISHED")]  # the re-runs logged to it again


def answer(dag_id: str, choice: str, answered: list, deadline: float = 600) -> threading.Thread:
    """A thread that answers the run's approval once it waits, as the api-server would."""
    from airflow.api_fastapi.core_api.datamodels.hitl import UpdateHITLDetailPayload
    from airflow.api_fastapi.core_api.routes.public.hitl import update_hitl_detail
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState

    class Reviewer:
        def get_id(self) -> str:
            return "reviewer-1"

        def get_name(self) -> str:
            return "Rita Reviewer"

    def respond():
        stop = time.monotonic() + deadline
        while time.monotonic() < stop:
            with create_session() as session:
                waiting = session.query(TaskInstance).filter_by(
                    dag_id=dag_id, task_id="approve", state=TaskInstanceState.AWAITING_INPUT,
                ).first()
                if waiting is not None:
                    response = update_hitl_detail(
                        dag_id=dag_id, dag_run_id=waiting.run_id, task_id="approve",
                        update_hitl_detail_payload=UpdateHITLDetailPayload(
                            chosen_options=[choice]),
                        user=Reviewer(), session=session,
                    )
                    answered.append(response)
                    return
            time.sleep(0.5)

    thread = threading.Thread(target=respond, daemon=True)
    thread.start()
    return thread


def test_needs_approval_waits_for_a_human_who_approves(retrain, client, task_states,
                                                      night_notes):
    dag = retrain("retrain_approved", approval={"always": True})
    answered: list = []
    responder = answer(dag.dag_id, "Approve", answered)

    run = dag.test(logical_date=NIGHT)
    responder.join(timeout=5)

    assert run.state == "success"
    assert answered and answered[0].responded_by.name == "Rita Reviewer"
    states = task_states(run)
    assert (states["approve"], states["promote"], states["reject"]) == (
        "success", "success", "skipped")
    assert xcom(run, "evaluate")["verdict"] == "needs_approval"
    assert alias_version(client, MODEL, CHAMPION) == "1"
    move = ledger.history(client, MODEL, alias=CHAMPION)[0]
    assert move.reason.startswith("approved by a human; ")
    approved = client.get_model_version(MODEL, "1").tags
    assert (approved[tag("approval")], approved[tag("approved_by")]) == ("Approve", "Rita Reviewer")
    card = read_card(client, MODEL, "1")
    assert "Approve by Rita Reviewer at " in card
    assert "Aliases when this card was written: challenger, champion" in card
    assert client.get_model_version(MODEL, "1").tags[tag("status")] == "champion"
    body = approval_body(run)
    assert "(first version, no champion yet)" in body and "vNone" not in body
    assert "asks a human before every promotion (`approval.always`)" in body
    record = xcom(run, "evaluate", "_link_DecisionRecordLink")
    assert record.startswith("http") and f"[Decision record]({record})" in body
    assert night_notes(run).startswith("v1 promoted after approval: roc_auc ")


def test_a_human_rejection_promotes_nothing(retrain, client, task_states, night_notes):
    dag = retrain("retrain_declined", approval={"always": True})
    answered: list = []
    responder = answer(dag.dag_id, "Reject", answered)

    run = dag.test(logical_date=NIGHT)
    responder.join(timeout=5)

    assert run.state == "success"
    states = task_states(run)
    assert (states["approve"], states["promote"], states["reject"]) == (
        "success", "skipped", "success")
    assert alias_version(client, MODEL, CHAMPION) is None
    assert ledger.history(client, MODEL, alias=CHAMPION) == []
    tags = client.get_model_version(MODEL, "1").tags
    assert tags[tag("status")] == "rejected"
    assert tags[tag("rejected_because")].startswith(
        "rejected at approval; the policy said needs_approval: ")
    assert xcom(run, "summary")["champion_after"] is None
    assert night_notes(run).startswith("v1 rejected at approval: roc_auc ")
    # Without an MLflow UI, the card opens through the plugin, which serves the run's page.
    card = xcom(run, "reject", "mlops_links")["Model card"]
    assert card.startswith("http") and "name=model_card.html" in card
    run_id = client.get_model_version(MODEL, "1").run_id
    assert xcom(run, "reject", "mlops_reports")["model_card.html"] == (
        f"runs:/{run_id}/model_card/model_card.html")
    assert "<title>churn v1</title>" in read_card(client, MODEL, "1", as_html=True)
