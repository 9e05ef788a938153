"""End to end: the dags/ templates over a folder of model configs, as Airflow parses and runs them.

A broken config hurts no other model; a model reading SQL lands its rows, trains and is
promoted; alerts reach real notifiers.
"""

from __future__ import annotations

import datetime as dt
import runpy
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "dags"
NIGHT = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)
NOTIFIER = """\
from airflow.sdk import BaseNotifier


class RecordingNotifier(BaseNotifier):
    template_fields = ("message",)

    def __init__(self, path, message):
        super().__init__()
        self.path = path
        self.message = message

    def notify(self, context):
        with open(self.path, "a") as out:
            out.write(self.message + "\\n")
"""

pytestmark = pytest.mark.e2e


def churn_config(**changes) -> dict:
    config = yaml.safe_load((DAGS / "models" / "churn.yaml").read_text())
    config["suite"] = str(REPO / "expectations" / "churn.json")
    return {**config, **changes}


def backfill_dry_run(dag_id: str, start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    """The logical dates ``airflow backfill create --dry-run --reprocess-behavior failed`` lists."""
    from airflow.models.backfill import ReprocessBehavior, _do_dry_run
    from airflow.utils.session import create_session

    with create_session() as session:
        infos = _do_dry_run(dag_id=dag_id, from_date=start, to_date=end, reverse=False,
                            reprocess_behavior=ReprocessBehavior.FAILED, dag_run_conf={},
                            session=session)
    return [info.logical_date for info in infos]


@pytest.fixture
def configs(tmp_path, monkeypatch) -> Path:
    """An empty configs folder the dags/ templates read ($AIRFLOW_MLOPS_CONFIGS)."""
    folder = tmp_path / "models"
    folder.mkdir()
    monkeypatch.setenv("AIRFLOW_MLOPS_CONFIGS", str(folder))
    monkeypatch.setenv("AIRFLOW_MLOPS_DATA_ROOT", str(tmp_path / "data"))
    return folder


def write(folder: Path, name: str, config: dict | str) -> None:
    (folder / name).write_text(config if isinstance(config, str) else yaml.safe_dump(config))


def test_a_broken_config_hurts_no_other_model(configs, airflow_db, task_states):
    from airflow.dag_processing.dagbag import DagBag

    write(configs, "churn.yaml", churn_config())
    write(configs, "upsell.yaml", churn_config(name="upsell"))
    write(configs, "broken.yaml", churn_config(name="broken", promotion={"primary_metric": "r2"}))
    write(configs, "garbled.yaml", "name: [unclosed\n")

    bag = DagBag(dag_folder=str(DAGS))

    assert bag.import_errors == {}
    for prefix in ("nightly_retrain", "drift_monitor"):
        for model in ("churn", "upsell"):
            assert "config-error" not in bag.get_dag(f"{prefix}_{model}").tags
        for broken in (f"{prefix}_broken", f"{prefix}_garbled_config-error"):
            assert "config-error" in bag.get_dag(broken).tags
    description = bag.get_dag("nightly_retrain_broken").description
    assert "'r2' is not a classification metric" in description

    retrain_dags = runpy.run_path(str(DAGS / "nightly_retrain.py"))["dags"]
    broken_dag = next(d for d in retrain_dags if d.dag_id == "nightly_retrain_broken")
    run = broken_dag.test()
    assert task_states(run) == {"config_error": "failed"}
    assert run.state == "failed"


@pytest.fixture
def notifier(tmp_path, monkeypatch) -> str:
    (tmp_path / "alerting").mkdir()
    (tmp_path / "alerting" / "recording.py").write_text(NOTIFIER)
    monkeypatch.syspath_prepend(str(tmp_path / "alerting"))
    monkeypatch.setenv("AIRFLOW_MLOPS_IMPORT_PREFIXES", "recording")
    return "recording.RecordingNotifier"


def test_sql_model_lands_its_rows_trains_and_alerts(configs, airflow_db, mlflow_connection,
                                                     warehouse, notifier, tmp_path, task_states):
    from mlflow import MlflowClient

    from airflow_mlops.core.registry import CHAMPION, alias_version

    alerts_file = tmp_path / "alerts.txt"
    alert = {"notifier": notifier, "params": {"path": str(alerts_file)}}
    landing = "${AIRFLOW_MLOPS_DATA_ROOT}/warehouse/ds={{ ds }}/customers.parquet"
    query = {"sql": "SELECT * FROM customers WHERE customer_id IS NOT NULL",
             "conn_id": "warehouse"}
    write(configs, "churn.yaml", churn_config(
        data_uri=landing, data_query=query, retries={"count": 0},
        alerts={"on_promotion": [{**alert, "params": {**alert["params"], "message":
                                  "promoted by {{ task_id }} in {{ dag_id }}"}}],
                "on_failure": [{**alert, "params": {**alert["params"], "message":
                                "failed {{ task_id }} of {{ dag_id }}"}}]},
    ))
    write(configs, "nosuite.yaml", churn_config(
        name="nosuite", suite=str(tmp_path / "absent.json"), data_uri=landing, data_query=query,
        retries={"count": 0},
        alerts={"on_failure": [{**alert, "params": {**alert["params"], "message":
                                "failed {{ task_id }} of {{ dag_id }}"}}]},
    ))
    dags = {d.dag_id: d for d in runpy.run_path(str(DAGS / "nightly_retrain.py"))["dags"]}

    run = dags["nightly_retrain_churn"].test(logical_date=NIGHT)

    states = task_states(run)
    assert states["extract"] == states["validate"] == states["train"] == "success"
    assert states["promote"] == "success"
    landed = tmp_path / "data" / "warehouse" / "ds=2026-03-01" / "customers.parquet"
    assert landed.is_file()
    client = MlflowClient(mlflow_connection, mlflow_connection)
    assert alias_version(client, "churn", CHAMPION) == "1"
    assert alerts_file.read_text().splitlines() == ["promoted by promote in nightly_retrain_churn"]
    assert backfill_dry_run("nightly_retrain_churn", NIGHT, NIGHT + dt.timedelta(days=2)) == [
        NIGHT + dt.timedelta(days=1), NIGHT + dt.timedelta(days=2)]  # the night that ran is kept

    failed = dags["nightly_retrain_nosuite"].test(logical_date=NIGHT)

    assert task_states(failed)["validate"] == "failed"
    alerts = alerts_file.read_text().splitlines()
    assert alerts[1:] == ["failed validate of nightly_retrain_nosuite"]


def test_column_groups_train_on_missing_values_and_promote(configs, airflow_db, mlflow_connection,
                                                          customers, land, tmp_path, task_states):
    import json

    import mlflow.sklearn
    from mlflow import MlflowClient
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer

    from airflow_mlops.core.registry import CHAMPION, alias_version

    suite = json.loads((REPO / "expectations" / "churn.json").read_text())
    suite["expectations"] = [e for e in suite["expectations"] if not (
        e["type"] == "expect_column_values_to_not_be_null"
        and e["kwargs"]["column"] == "monthly_charges")]
    (tmp_path / "churn.json").write_text(json.dumps(suite))
    holes = customers.copy()
    holes.loc[holes.index[::6], "monthly_charges"] = None
    holes.loc[holes.index[1::9], "contract"] = None
    land(holes, tmp_path / "data" / "customers", NIGHT)
    estimator = {
        "preprocess": {
            "numeric": {"columns": ["tenure_months", "monthly_charges", "support_calls"], "steps": [
                {"class": "sklearn.impute.SimpleImputer", "params": {"strategy": "median"}},
                {"class": "sklearn.preprocessing.StandardScaler"}]},
            "categorical": {"columns": ["contract", "region"], "steps": [
                {"class": "sklearn.impute.SimpleImputer", "params": {"strategy": "most_frequent"}},
                {"class": "sklearn.preprocessing.OneHotEncoder",
                 "params": {"handle_unknown": "ignore"}}]}},
        "steps": [{"class": "sklearn.linear_model.LogisticRegression",
                   "params": {"max_iter": 500}}]}
    write(configs, "churn.yaml", churn_config(suite=str(tmp_path / "churn.json"),
                                              estimator=estimator, retries={"count": 0}))
    (dag,) = runpy.run_path(str(DAGS / "nightly_retrain.py"))["dags"]

    run = dag.test(logical_date=NIGHT)

    states = task_states(run)
    assert states["validate"] == states["train"] == states["promote"] == "success", states
    client = MlflowClient(mlflow_connection, mlflow_connection)
    assert alias_version(client, "churn", CHAMPION) == "1"
    mlflow.set_tracking_uri(mlflow_connection)
    model = mlflow.sklearn.load_model("models:/churn@champion")  # through skops' allow-list
    prepare = model.named_steps["prepare"]
    assert isinstance(prepare, ColumnTransformer)
    assert {name for name, _, _ in prepare.transformers_} >= {"numeric", "categorical"}
    assert isinstance(prepare.named_transformers_["numeric"].steps[0][1], SimpleImputer)
    assert model.predict(holes[churn_config()["features"]].head(20)).shape == (20,)
