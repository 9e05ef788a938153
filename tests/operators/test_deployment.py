"""Deployment operators against a real MLflow store, real files and a real local HTTP server."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException

from airflow_mlops.core import registry
from airflow_mlops.core.export import read_marker
from airflow_mlops.core.fetch import smoke_record
from airflow_mlops.core.tracking import TrackingTarget, tracking_session
from airflow_mlops.core.training import train_challenger
from airflow_mlops.operators.deployment import (
    BatchScoreOperator,
    ExportModelOperator,
    ReloadEndpointOperator,
    SmokeCheckOperator,
)

MODEL = "churn"
FEATURES = ["tenure_months", "monthly_charges", "support_calls", "contract", "region"]
LOGICAL_DATE = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module")
def mlflow_store(tmp_path_factory, customers):
    """A fresh store with versions 1 to 3, reached through the mlflow_default connection."""
    from mlflow import MlflowClient

    root = tmp_path_factory.mktemp("deployment")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    with tracking_session(TrackingTarget(uri)):
        for run_id in ("night-1", "night-2", "night-3"):
            train_challenger(
                customers.head(200), model_name=MODEL, experiment_name="deployment",
                target="churned", features=FEATURES, task="classification",
                holdout_fraction=0.3, seed=7,
                estimator={"class": "sklearn.linear_model.LogisticRegression"},
                lineage={"dag_id": "d", "run_id": run_id, "data_fingerprint": "f"},
                artifact_location=str(root / "artifacts"),
            )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIRFLOW_CONN_MLFLOW_DEFAULT", json.dumps({"conn_type": "mlflow",
                                                                 "host": uri}))
        yield MlflowClient(uri, uri)


@pytest.fixture
def client(mlflow_store):
    """The module's store, with no aliases set."""
    for alias in (registry.CHAMPION, registry.CHALLENGER):
        mlflow_store.delete_registered_model_alias(MODEL, alias)
    return mlflow_store


def context(task_id: str, **extra) -> dict:
    ti = SimpleNamespace(dag_id="deploy", run_id="scheduled__2026-03-01", task_id=task_id)
    return {"ti": ti, "logical_date": LOGICAL_DATE, **extra}


@pytest.fixture
def day(tmp_path, customers) -> Path:
    path = tmp_path / "ds=2026-03-01" / "customers.csv"
    path.parent.mkdir()
    customers.iloc[300:330].to_csv(path, index=False)
    return path


def test_templated_fields():
    assert set(SmokeCheckOperator.template_fields) == {"version", "data_uri"}
    assert set(BatchScoreOperator.template_fields) == {"data_uri", "output_uri", "alias"}
    assert set(ExportModelOperator.template_fields) == {"target_uri", "alias"}
    assert set(ReloadEndpointOperator.template_fields) == {"endpoint", "payload", "headers"}


def test_smoke_check_passes_and_tags_the_version(client, day):
    operator = SmokeCheckOperator(task_id="smoke_check", model_name=MODEL, version="1",
                                  data_uri=str(day), sample_rows=10)

    result = operator.execute(context("smoke_check"))

    assert (result["version"], result["passed"], result["rows"]) == ("1", True, 10)
    assert smoke_record(client, MODEL, "1")["checked_by"] == "deploy/scheduled__2026-03-01"


def test_smoke_check_failure_fails_without_retry_and_moves_nothing(client, tmp_path, customers):
    data = tmp_path / "no_region.csv"
    customers.head(20).drop(columns=["region"]).to_csv(data, index=False)
    operator = SmokeCheckOperator(task_id="smoke_check", model_name=MODEL, version="3",
                                  data_uri=str(data))

    with pytest.raises(AirflowFailException, match=r"smoke check failed: model 'churn' v3: its "
                       r"signature needs column\(s\) region"):
        operator.execute(context("smoke_check"))

    assert registry.alias_version(client, MODEL, registry.CHAMPION) is None


def test_a_model_past_the_smoke_check_time_limit_fails_without_retry(client, day):
    operator = SmokeCheckOperator(task_id="smoke_check", model_name=MODEL, version="3",
                                  data_uri=str(day), time_limit=0.001)

    with pytest.raises(AirflowFailException, match=r"smoke check failed: model 'churn' v3: the "
                       r"model did not answer within 0\.001 s while loading it"):
        operator.execute(context("smoke_check"))

    assert smoke_record(client, MODEL, "3")["passed"] is False


def test_batch_score_uses_the_champion_and_the_logical_date(client, day, tmp_path):
    client.set_registered_model_alias(MODEL, registry.CHAMPION, "2")
    before = hashlib.sha256(day.read_bytes()).hexdigest()
    output = tmp_path / "predictions" / "ds=2026-03-01" / "part.parquet"
    operator = BatchScoreOperator(task_id="score", model_name=MODEL, data_uri=str(day),
                                  output_uri=str(output), key_columns=["customer_id"])

    result = operator.execute(context("score"))

    written = pd.read_parquet(output)
    assert (result["version"], result["rows"]) == ("2", 30)
    assert result["output_uri"] == f"file://{output}"
    assert set(written["model_version"]) == {"2"}
    assert set(written["scored_at"]) == {pd.Timestamp(LOGICAL_DATE)}
    assert hashlib.sha256(day.read_bytes()).hexdigest() == before


def test_batch_score_without_a_logical_date_uses_run_after(client, day, tmp_path):
    client.set_registered_model_alias(MODEL, registry.CHAMPION, "1")
    run_after = dt.datetime(2026, 3, 4, 5, tzinfo=dt.timezone.utc)
    operator = BatchScoreOperator(task_id="score", model_name=MODEL, data_uri=str(day),
                                  output_uri=str(tmp_path / "out.csv"),
                                  key_columns=["customer_id"])
    run_context = context("score", dag_run=SimpleNamespace(run_after=run_after))
    del run_context["logical_date"]

    operator.execute(run_context)

    assert pd.read_csv(tmp_path / "out.csv")["scored_at"].unique().tolist() == [
        "2026-03-04 05:00:00+00:00"
    ]


def test_batch_score_skips_without_a_champion(client, day, tmp_path):
    operator = BatchScoreOperator(task_id="score", model_name=MODEL, data_uri=str(day),
                                  output_uri=str(tmp_path / "out.parquet"),
                                  key_columns=["customer_id"])

    with pytest.raises(AirflowSkipException, match="model 'churn' has no 'champion' alias"):
        operator.execute(context("score"))


def test_batch_score_refuses_its_input_as_output(client, day):
    client.set_registered_model_alias(MODEL, registry.CHAMPION, "1")
    operator = BatchScoreOperator(task_id="score", model_name=MODEL, data_uri=str(day),
                                  output_uri=str(day), key_columns=["customer_id"])

    with pytest.raises(AirflowFailException, match="is the input data set itself"):
        operator.execute(context("score"))


def test_export_writes_the_champion_to_the_serving_folder(client, tmp_path):
    import mlflow

    client.set_registered_model_alias(MODEL, registry.CHAMPION, "2")
    target = tmp_path / "serving" / "churn"
    operator = ExportModelOperator(task_id="export", model_name=MODEL, target_uri=str(target))

    first = operator.execute(context("export"))
    second = operator.execute(context("export"))

    assert (first["version"], first["changed"], second["changed"]) == ("2", True, False)
    assert read_marker(target)["exported_by"] == "deploy/scheduled__2026-03-01"
    mlflow.pyfunc.load_model(str(target))


class ServingEndpoint:
    """A real HTTP server on 127.0.0.1 answering POSTs with the given statuses in turn."""

    def __init__(self, statuses: list[int]):
        self.statuses = list(statuses)
        self.requests: list[dict] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                endpoint.requests.append({"path": self.path, "body": json.loads(body or "null")})
                status = endpoint.statuses.pop(0) if len(endpoint.statuses) > 1 \
                    else endpoint.statuses[0]
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"reloaded" if status < 400 else b"busy")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True)

    def __enter__(self) -> ServingEndpoint:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def serving(monkeypatch):
    """Start a local endpoint with the given statuses; the `serving` connection points at it."""
    started = []

    def start(statuses: list[int]) -> ServingEndpoint:
        endpoint = ServingEndpoint(statuses).__enter__()
        started.append(endpoint)
        monkeypatch.setenv("AIRFLOW_CONN_SERVING", json.dumps(
            {"conn_type": "http", "host": "127.0.0.1", "port": endpoint.port, "schema": "http"}
        ))
        return endpoint

    yield start
    for endpoint in started:
        endpoint.__exit__()


def reload_operator(**kwargs) -> ReloadEndpointOperator:
    arguments = {"task_id": "reload", "http_conn_id": "serving", "endpoint": "/admin/reload",
                 "payload": {"model": MODEL, "version": "2"}, "retry_wait": 0.01,
                 "attempts": 4, **kwargs}
    return ReloadEndpointOperator(**arguments)


def test_reload_retries_until_the_endpoint_answers(serving):
    endpoint = serving([503, 503, 200])

    result = reload_operator().execute(context("reload"))

    assert result == {"url": f"http://127.0.0.1:{endpoint.port}/admin/reload", "status": 200}
    assert len(endpoint.requests) == 3
    assert endpoint.requests[-1] == {"path": "/admin/reload",
                                     "body": {"model": MODEL, "version": "2"}}


def test_reload_gives_up_after_its_attempts(serving):
    endpoint = serving([503])

    with pytest.raises(AirflowException, match=r"reload failed after 4 requests: "
                       r"http://127\.0\.0\.1:\d+/admin/reload answered 503"):
        reload_operator().execute(context("reload"))

    assert len(endpoint.requests) == 4


def test_reload_does_not_retry_a_client_error(serving):
    endpoint = serving([404])

    with pytest.raises(AirflowFailException, match="reload refused: .* answered 404"):
        reload_operator().execute(context("reload"))

    assert len(endpoint.requests) == 1


def test_reload_retries_when_nothing_listens(monkeypatch):
    import socket

    with socket.socket() as probe:  # a port that was free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("AIRFLOW_CONN_SERVING", json.dumps(
        {"conn_type": "http", "host": "127.0.0.1", "port": port, "schema": "http"}))

    with pytest.raises(AirflowException, match=rf"reload failed after 2 requests: "
                       rf"http://127\.0\.0\.1:{port}/admin/reload"):
        reload_operator(attempts=2, timeout=2).execute(context("reload"))
