"""The retrain template's deployment path: smoke check before promotion, optional deployment."""

from __future__ import annotations

import datetime as dt
import json
import runpy
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml
from airflow.sdk import TriggerRule

from airflow_mlops.core.config import DeploymentPolicy, ModelConfig, load_model_config
from airflow_mlops.core.errors import ConfigError
from airflow_mlops.operators.decision import ROUTES
from airflow_mlops.templates.retrain import build_retrain_dag

MODEL = "churn"
CONFIG = {
    "name": "churn",
    "start_date": "2026-01-01",
    "data_uri": "/lake/customers/ds={{ ds }}/customers.csv",
    "target": "churned",
    "features": ["tenure", "plan"],
    "suite": "/suites/churn.json",
    "estimator": {"class": "sklearn.linear_model.LogisticRegression"},
}
DEPLOYMENT = {
    "smoke_sample_rows": 20,
    "scoring": {"output_uri": "/lake/predictions/ds={{ ds }}/part.parquet",
                "key_columns": ["customer_id"]},
    "export_uri": "/serving/churn",
    "reload": {"http_conn_id": "serving", "endpoint": "/admin/reload", "attempts": 3},
}


def upstream(dag) -> dict[str, set[str]]:
    return {task.task_id: set(task.upstream_task_ids) for task in dag.tasks}


def test_the_smoke_check_stands_between_the_decision_and_promote():
    dag = build_retrain_dag(ModelConfig.model_validate(CONFIG))

    graph = upstream(dag)
    assert graph["smoke_check"] == {"route_decision", "approve"}
    assert graph["promote"] == {"evaluate", "smoke_check"}
    assert dag.task_dict["promote"].trigger_rule == TriggerRule.ALL_SUCCESS
    assert ROUTES["promote"] == "smoke_check"
    assert dag.task_dict["approve"].options_mapping["Approve"] == "smoke_check"
    smoke = dag.task_dict["smoke_check"]
    assert smoke.trigger_rule == TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS
    assert smoke.data_uri == dag.task_dict["validate"].data_uri
    assert smoke.version == "{{ ti.xcom_pull(task_ids='evaluate')['challenger_version'] }}"
    assert smoke.sample_rows == 100
    assert not {"score", "export", "reload"} & set(dag.task_dict)


def test_deployment_tasks_follow_the_decision_when_configured():
    dag = build_retrain_dag(ModelConfig.model_validate({**CONFIG, "deployment": DEPLOYMENT}))

    graph = upstream(dag)
    assert graph["score"] == {"promote", "reject"}
    assert graph["export"] == {"promote"}
    assert graph["reload"] == {"export"}
    score = dag.task_dict["score"]
    assert score.trigger_rule == TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS
    assert score.data_uri == dag.task_dict["validate"].data_uri
    assert score.output_uri == DEPLOYMENT["scoring"]["output_uri"]
    assert score.key_columns == ["customer_id"]
    assert dag.task_dict["export"].target_uri == "/serving/churn"
    reload = dag.task_dict["reload"]
    assert (reload.http_conn_id, reload.endpoint, reload.attempts) == ("serving",
                                                                        "/admin/reload", 3)
    assert reload.payload["version"] == "{{ ti.xcom_pull(task_ids='promote')['champion'] }}"
    assert dag.task_dict["smoke_check"].sample_rows == 20


def test_reload_without_export_follows_promote():
    deployment = {"reload": DEPLOYMENT["reload"]}
    dag = build_retrain_dag(ModelConfig.model_validate({**CONFIG, "deployment": deployment}))

    assert upstream(dag)["reload"] == {"promote"}
    assert not {"score", "export"} & set(dag.task_dict)


def test_scoring_reads_its_own_data_when_given():
    scoring = {**DEPLOYMENT["scoring"], "data_uri": "/lake/unlabelled/{{ ds }}.parquet"}
    dag = build_retrain_dag(ModelConfig.model_validate(
        {**CONFIG, "deployment": {"scoring": scoring}}))

    assert dag.task_dict["score"].data_uri == scoring["data_uri"]


def test_the_deployment_section_is_optional_and_expands_variables(tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW_MLOPS_LAKE", "/mnt/lake")
    path = tmp_path / "model.yaml"
    path.write_text(yaml.safe_dump(CONFIG))
    assert load_model_config(path).deployment == DeploymentPolicy()

    scoring = {"output_uri": "$AIRFLOW_MLOPS_LAKE/predictions/{{ ds }}.csv",
               "key_columns": ["id"], "data_uri": "${AIRFLOW_MLOPS_LAKE}/new/{{ ds }}.csv"}
    deployment = {"scoring": scoring, "export_uri": "$AIRFLOW_MLOPS_LAKE/serving"}
    path.write_text(yaml.safe_dump({**CONFIG, "deployment": deployment}))
    deployment = load_model_config(path).deployment

    assert deployment.scoring.output_uri == "/mnt/lake/predictions/{{ ds }}.csv"
    assert deployment.scoring.data_uri == "/mnt/lake/new/{{ ds }}.csv"
    assert deployment.export_uri == "/mnt/lake/serving"


def test_scoring_needs_key_columns(tmp_path):
    path = tmp_path / "model.yaml"
    path.write_text(yaml.safe_dump({**CONFIG, "deployment": {
        "scoring": {"output_uri": "/p.csv", "key_columns": []}}}))

    with pytest.raises(ConfigError, match="field 'deployment.scoring.key_columns'"):
        load_model_config(path)


DAG_FILE = """
from airflow_mlops.core.config import load_model_config
from airflow_mlops.templates.retrain import build_retrain_dag

dag = build_retrain_dag(load_model_config({config!r}), dag_id="retrain_and_deploy")
"""


class Endpoint(BaseHTTPRequestHandler):
    """A serving endpoint on 127.0.0.1 that is busy (503) on every first reload request."""

    requests: list[dict] = []

    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.requests.append(body)
        self.send_response(503 if len(self.requests) % 2 else 200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def serving(monkeypatch):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Endpoint)
    Endpoint.requests = []
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    monkeypatch.setenv("AIRFLOW_CONN_SERVING", json.dumps(
        {"conn_type": "http", "host": "127.0.0.1", "port": server.server_address[1]}))
    yield Endpoint.requests
    server.shutdown()
    server.server_close()


@pytest.mark.e2e
def test_two_nights_promote_then_reject_with_deployment(
    airflow_db, mlflow_connection, serving, churn_suite, customers, tmp_path, dag_bundle,
    task_states):
    import pandas as pd
    from mlflow import MlflowClient

    from airflow_mlops.core.export import read_marker
    from airflow_mlops.core.fetch import smoke_record
    from airflow_mlops.core.registry import CHAMPION, alias_version

    folder = dag_bundle
    config = {
        **CONFIG,
        "data_uri": f"{tmp_path}/data/ds={{{{ ds }}}}/customers.csv",
        "features": ["tenure_months", "monthly_charges", "support_calls", "contract", "region"],
        "suite": str(churn_suite),
        "holdout_fraction": 0.3,
        "promotion": {"min_absolute_change": 0.5},  # no second challenger can beat that
        "deployment": {
            "scoring": {"output_uri": f"{tmp_path}/predictions/ds={{{{ ds }}}}/part.parquet",
                        "key_columns": ["customer_id"]},
            "export_uri": str(tmp_path / "serving" / "churn"),
            "reload": {"http_conn_id": "serving", "endpoint": "/reload",
                       "retry_wait_seconds": 0.01},
        },
    }
    (tmp_path / "churn.yaml").write_text(yaml.safe_dump(config))
    (folder / "retrain_and_deploy.py").write_text(DAG_FILE.format(config=str(tmp_path /
                                                                                  "churn.yaml")))
    dag = runpy.run_path(str(folder / "retrain_and_deploy.py"))["dag"]
    client = MlflowClient(mlflow_connection, mlflow_connection)
    nights = [dt.datetime(2026, 3, day, tzinfo=dt.timezone.utc) for day in (1, 2)]
    for index, night in enumerate(nights):
        path = tmp_path / "data" / f"ds={night:%Y-%m-%d}" / "customers.csv"
        path.parent.mkdir(parents=True)
        customers.iloc[700 * index: 700 * (index + 1)].to_csv(path, index=False)

    first = dag.test(logical_date=nights[0])

    states = task_states(first)
    assert first.state == "success", states
    assert {t: states[t] for t in ("smoke_check", "promote", "reject", "score", "export",
                                   "reload")} == {
        "smoke_check": "success", "promote": "success", "reject": "skipped",
        "score": "success", "export": "success", "reload": "success"}
    assert alias_version(client, MODEL, CHAMPION) == "1"
    assert smoke_record(client, MODEL, "1")["passed"] is True
    assert read_marker(tmp_path / "serving" / "churn")["version"] == "1"
    assert serving == [{"model": MODEL, "alias": "champion", "version": "1"}] * 2

    second = dag.test(logical_date=nights[1])

    states = task_states(second)
    assert second.state == "success", states
    assert {t: states[t] for t in ("smoke_check", "promote", "reject", "score", "export",
                                   "reload")} == {
        "smoke_check": "skipped", "promote": "skipped", "reject": "success",
        "score": "success", "export": "skipped", "reload": "skipped"}
    assert alias_version(client, MODEL, CHAMPION) == "1"
    assert smoke_record(client, MODEL, "2") is None
    assert len(serving) == 2
    for night in nights:
        predictions = pd.read_parquet(tmp_path / "predictions" / f"ds={night:%Y-%m-%d}"
                                      / "part.parquet")
        assert len(predictions) == 700
        assert set(predictions["model_version"]) == {"1"}
        assert set(predictions["scored_at"]) == {pd.Timestamp(night)}
