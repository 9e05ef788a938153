"""The "Model card" link of real task runs: the card page on the MLflow server, or no button."""

from __future__ import annotations

import datetime as dt
import runpy
import urllib.request
from urllib.parse import quote, unquote

import pytest

from airflow_mlops.core import registry
from airflow_mlops.operators.links import ModelCardLink, ModelVersionLink

MODEL = "churn"
DAG_FILE = """\
from airflow.sdk import DAG

from airflow_mlops.operators.registry import RejectChallengerOperator, RollbackChampionOperator

with DAG("card_links", schedule=None) as dag:
    RollbackChampionOperator(task_id="rollback", model_name="churn", reason="bad night")
    RejectChallengerOperator(task_id="reject", model_name="churn", decision={
        "verdict": "reject", "challenger_version": "3", "champion_version": "1",
        "reasons": ["roc_auc below the threshold"]})
"""


def shown_links(run, task_id: str) -> dict[str, str]:
    """What the UI shows for the task: the URL Airflow stored for each of its extra links."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    keys = {link.xcom_key: link.name for link in (ModelCardLink(), ModelVersionLink())}
    with create_session() as session:
        rows = session.query(XComModel).filter_by(dag_id=run.dag_id, run_id=run.run_id,
                                                  task_id=task_id).all()
        return {keys[row.key]: XComModel.deserialize_value(row) for row in rows
                if row.key in keys}


@pytest.fixture
def versions(http_mlflow_connection):
    """v1 (trained in a run), v2 (champion, no run) and v3 (challenger, no run)."""
    from mlflow import MlflowClient

    client = MlflowClient(http_mlflow_connection, http_mlflow_connection)
    registry.ensure_registered_model(client, MODEL)
    run = client.create_run(client.create_experiment("card-links"), run_name="train v1")
    client.create_model_version(MODEL, f"runs:/{run.info.run_id}/model", run_id=run.info.run_id)
    client.create_model_version(MODEL, "s3://registry/churn/v2")
    client.create_model_version(MODEL, "s3://registry/churn/v3")
    client.set_registered_model_alias(MODEL, registry.PREVIOUS_CHAMPION, "1")
    client.set_registered_model_alias(MODEL, registry.CHAMPION, "2")
    return client, run.info


def test_a_written_card_is_linked_on_the_server_and_no_card_means_no_button(
        airflow_db, http_mlflow_connection, dag_bundle, versions):
    client, trained = versions
    server = http_mlflow_connection
    (dag_bundle / "card_links.py").write_text(DAG_FILE)
    dag = runpy.run_path(str(dag_bundle / "card_links.py"))["dag"]

    run = dag.test(logical_date=dt.datetime(2026, 4, 1, tzinfo=dt.timezone.utc))
    assert run.state == "success"

    rolled_back = shown_links(run, "rollback")
    card = rolled_back["Model card"]
    assert card == (f"{server}/#/experiments/{trained.experiment_id}/runs/{trained.run_id}"
                    "/artifacts/model_card/model_card.html")
    assert rolled_back["Model version"] == f"{server}/#/models/{MODEL}/versions/1"
    path = unquote(card.split("/artifacts/", 1)[1])
    with urllib.request.urlopen(f"{server}/get-artifact?path={quote(path)}"
                                f"&run_uuid={trained.run_id}", timeout=30) as response:
        page = response.read().decode()
    assert response.status == 200 and "<title>churn v1</title>" in page
    assert "champion" in page  # the rewritten card shows the restored alias

    rejected = shown_links(run, "reject")
    # v3 has no run, so no card: the link is absent while its version page is linked.
    assert rejected == {"Model card": "",
                        "Model version": f"{server}/#/models/{MODEL}/versions/3"}
    assert registry.tag("model_card") not in client.get_model_version(MODEL, "3").tags
