"""OpenLineage from the operators: real events of real DAG runs, captured by the file transport.

The nightly DAG runs in a child process configured with ``[openlineage] transport`` (the
provider reads it once, when its plugin loads); the test reads the events it wrote.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from airflow_mlops.core import lineage_facets as facets

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = REPO / "docs" / "openlineage"

NIGHTS = textwrap.dedent("""
    import datetime as dt, json, os, runpy, sys
    import pandas as pd
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    data_root, customers = sys.argv[1], sys.argv[2]
    frame = pd.read_csv(customers)
    (dag,) = runpy.run_path(sys.argv[3])["dags"]
    summaries = {}
    for day, part in ((1, frame.iloc[:600]), (2, frame.iloc[600:1200].copy())):
        if day == 2:
            part.loc[part.index[:25], "tenure_months"] = -1
        folder = f"{data_root}/customers/ds=2026-04-0{day}"
        os.makedirs(folder)
        part.to_csv(f"{folder}/customers.csv", index=False)
        run = dag.test(logical_date=dt.datetime(2026, 4, day, tzinfo=dt.timezone.utc))
        with create_session() as session:
            row = session.scalars(XComModel.get_many(
                run_id=run.run_id, dag_ids=dag.dag_id, task_ids="validate",
                key="return_value")).first()
            summaries[day] = XComModel.deserialize_value(row)
    print("SUMMARIES=" + json.dumps(summaries))
""")


@pytest.fixture(scope="module")
def events(airflow_db, tmp_path_factory):
    """The OpenLineage events of two nights: a clean one that promotes, a corrupted one."""
    root = tmp_path_factory.mktemp("lineage")
    log = root / "openlineage.jsonl"
    tracking_uri = f"sqlite:///{root / 'mlflow.db'}"
    env = {
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
            {"type": "file", "log_file_path": str(log), "append": True}),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "tests",
        "AIRFLOW_MLOPS_DATA_ROOT": str(root / "data"),
        "AIRFLOW_CONN_MLFLOW_DEFAULT": json.dumps({
            "conn_type": "mlflow", "host": tracking_uri,
            "extra": {"artifact_location": str(root / "artifacts")}}),
    }
    done = subprocess.run(
        [sys.executable, "-c", NIGHTS, str(root / "data"),
         str(REPO / "demo" / "data" / "customers.csv"), str(REPO / "dags" / "nightly_retrain.py")],
        env={**os.environ, **env}, capture_output=True, text=True, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    summaries = json.loads(done.stdout.split("SUMMARIES=", 1)[1].splitlines()[0])
    found = [json.loads(line) for line in log.read_text().splitlines()]
    return found, summaries, root / "data"


def completed(found: list[dict], task: str, state: str = "COMPLETE") -> list[dict]:
    return [e for e in found if e["eventType"] == state
            and e["job"]["name"].endswith(f".{task}")]


def test_a_night_forms_the_graph_partition_validate_train_version_promote(events):
    found, summaries, data = events
    partition = str(data / "customers" / "ds=2026-04-01" / "customers.csv")
    version = {"namespace": "mlflow://localhost", "name": "models/churn/1"}

    validate = completed(found, "validate")[0]
    (checked,) = validate["inputs"]
    assert (checked["namespace"], checked["name"]) == ("file", partition)
    quality = checked["inputFacets"]
    assert quality["dataQualityMetrics"]["rowCount"] == summaries["1"]["rows"] == 600
    assertions = quality["dataQualityAssertions"]["assertions"]
    assert len(assertions) == summaries["1"]["evaluated"]
    assert all(a["success"] for a in assertions)

    train = completed(found, "train")[0]
    assert [(d["namespace"], d["name"]) for d in train["inputs"]] == [("file", partition)]
    assert [{k: d[k] for k in version} for d in train["outputs"]] == [version]

    evaluate = completed(found, "evaluate")[0]
    decision = evaluate["run"]["facets"][facets.DECISION_FACET]
    assert (decision["action"], decision["verdict"], decision["challengerVersion"]) == (
        "evaluate", "promote", "1")
    assert decision["_schemaURL"] == facets.schema_url("AirflowMlopsDecisionRunFacet")

    promote = completed(found, "promote")[0]
    assert [{k: d[k] for k in version} for d in promote["inputs"]] == [version]
    promoted = promote["run"]["facets"][facets.DECISION_FACET]
    assert (promoted["action"], promoted["championAfter"]) == ("promote", "1")


def test_failed_assertions_match_the_validation_summary(events):
    found, summaries, _ = events
    summary = summaries["2"]
    assert not summary["success"]
    (failed_run,) = completed(found, "validate", "FAIL")
    assertions = failed_run["inputs"][0]["inputFacets"]["dataQualityAssertions"]["assertions"]
    failed = sorted((a["assertion"], a["column"]) for a in assertions if not a["success"])
    assert failed == sorted((f["expectation"], f["column"]) for f in summary["failures"])
    assert len(assertions) == summary["evaluated"]
    assert completed(found, "train", "FAIL") == completed(found, "train", "COMPLETE")[1:] == []


def test_the_custom_facets_match_their_published_schemas():
    import jsonschema
    from openlineage.client.serde import Serde

    decision = facets.decision_facet("promote", {
        "model": "churn", "challenger_version": "2", "champion_version": "1",
        "verdict": "promote", "reasons": ["better"], "primary_metric": "roc_auc",
        "challenger_metrics": {"roc_auc": 0.8}, "champion_metrics": {"roc_auc": 0.7}},
        {"champion": "2"})
    drift = facets.drift_facet({"model": "churn", "champion_version": "1", "drifted": True,
                                "share": 0.6, "drift_share": 0.5, "per_column": {
                                    "tenure_months": {"method": "ks", "score": 0.01,
                                                      "drifted": True}}})
    for found in (decision, drift):
        ((key, facet),) = found.items()
        name = type(facet).__name__
        schema = json.loads((SCHEMAS / f"{name}.json").read_text())
        assert facet._schemaURL == facets.schema_url(name)
        assert facet._schemaURL.startswith(facets.SCHEMA_BASE_URL + f"{name}.json#")
        assert schema["properties"][key]["$ref"] == f"#/$defs/{name}"
        own = schema["$defs"][name]["allOf"][1]
        payload = json.loads(Serde.to_json(facet))
        jsonschema.validate(payload, own)
        with pytest.raises(jsonschema.ValidationError):  # the schema does check something
            jsonschema.validate({**payload, "columns": "x", "reasons": "x", "action": "x"}, own)


@pytest.mark.parametrize(("uri", "expected"), [
    ("/data/ds=1/customers.csv", ("file", "/data/ds=1/customers.csv")),
    ("file:///data/x.parquet", ("file", "/data/x.parquet")),
    ("s3://aws_default@lake/ds=1/part.parquet", ("s3://lake", "ds=1/part.parquet")),
    ("gs://bucket/key.csv", ("gs://bucket", "key.csv")),
])
def test_dataset_names_follow_the_openlineage_naming(uri, expected):
    assert facets.data_dataset_id(uri) == expected


def test_a_tracking_server_names_the_model_namespace():
    assert facets.model_namespace("https://user@mlflow.example:5000") == \
        "mlflow://mlflow.example:5000"
    assert facets.model_namespace("sqlite:////tmp/mlflow.db") == "mlflow://localhost"


BLOCKED = textwrap.dedent("""
    import importlib.abc, runpy, sys

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] == "openlineage" or name.startswith(
                    "airflow.providers.openlineage"):
                raise ImportError(f"{name} is blocked")
            return None

    sys.meta_path.insert(0, Block())
    # As if not installed: Airflow does not find the provider's distribution either.
    import importlib.metadata, importlib_metadata

    for metadata in (importlib.metadata, importlib_metadata):
        def distributions(installed=metadata.distributions, **kwargs):
            return [d for d in installed(**kwargs) if "openlineage" not in (d.name or "")]
        metadata.distributions = distributions
    from airflow_mlops.operators.validation import ValidateDataOperator

    (dag,) = runpy.run_path(sys.argv[1])["dags"]
    assert not [m for m in sys.modules if "openlineage" in m], "imported at parse time"
    operator = ValidateDataOperator(task_id="validate", data_uri=sys.argv[2], suite=sys.argv[3],
                                    results_uri=sys.argv[4])

    class Ti:
        dag_id, run_id, task_id = "d", "r", "validate"
        def xcom_push(self, key, value):
            pass

    print("ROWS=%d" % operator.execute({"ti": Ti()})["rows"])
    try:
        operator.get_openlineage_facets_on_complete(None)
    except ImportError as exc:
        print("BLOCKED=" + str(exc))
""")


def test_without_the_provider_the_operators_run_unchanged(airflow_db, tmp_path, customers,
                                                         churn_suite, monkeypatch):
    monkeypatch.setenv("AIRFLOW_MLOPS_DATA_ROOT", str(tmp_path / "data"))
    data = tmp_path / "customers.csv"
    customers.head(600).to_csv(data, index=False)
    done = subprocess.run(
        [sys.executable, "-c", BLOCKED, str(REPO / "dags" / "nightly_retrain.py"), str(data),
         str(churn_suite), str(tmp_path / "reports")],
        env=dict(os.environ), capture_output=True, text=True, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "ROWS=600" in done.stdout
    # Negative control: the block is real, the lineage method cannot import the provider.
    assert "BLOCKED=airflow.providers.openlineage" in done.stdout


def test_scoring_and_drift_report_their_inputs_outputs_and_facets(mlflow_connection):
    from types import SimpleNamespace

    from airflow_mlops.operators.openlineage import drift_lineage, scoring_lineage

    score = SimpleNamespace(model_name="churn", mlflow_conn_id="mlflow_default",
                            data_uri="/data/ds=1/customers.csv", _outcome={
                                "version": "3", "rows": 10, "output_uri": "/out/part.parquet"})
    lineage = scoring_lineage(score)
    assert [(d.namespace, d.name) for d in lineage.inputs] == [
        ("mlflow://localhost", "models/churn/3"), ("file", "/data/ds=1/customers.csv")]
    (predictions,) = lineage.outputs
    assert (predictions.name, predictions.outputFacets["outputStatistics"].rowCount) == (
        "/out/part.parquet", 10)

    drift = SimpleNamespace(_outcome={
        "model": "churn", "champion_version": "3", "reference": "/data/ds=0/customers.csv",
        "current": "/data/ds=1/customers.csv", "drifted": True, "share": 1.0, "drift_share": 0.5,
        "per_column": {"tenure_months": {"method": "ks", "score": 0.001, "drifted": True}}})
    lineage = drift_lineage(drift)
    assert [d.name for d in lineage.inputs] == ["/data/ds=0/customers.csv",
                                                 "/data/ds=1/customers.csv"]
    facet = lineage.run_facets[facets.DRIFT_FACET]
    assert facet.columns == {"tenure_months": {"method": "ks", "score": 0.001, "drifted": True}}
    # Before execute kept a result (a task that failed early), nothing is claimed.
    assert drift_lineage(SimpleNamespace()).inputs == []


SCORED_NIGHTS = textwrap.dedent("""
    import datetime as dt, json, os, runpy, sys
    import pandas as pd
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    data_root, customers, retrain_file, drift_file = sys.argv[1:5]
    frame = pd.read_csv(customers)

    def land(part, day):
        folder = f"{data_root}/customers/ds=2026-04-0{day}"
        os.makedirs(folder)
        part.to_csv(f"{folder}/customers.csv", index=False)
        return dt.datetime(2026, 4, day, tzinfo=dt.timezone.utc)

    def returned(run, task_id):
        with create_session() as session:
            row = session.scalars(XComModel.get_many(
                run_id=run.run_id, dag_ids=run.dag_id, task_ids=task_id,
                key="return_value")).first()
            return XComModel.deserialize_value(row)

    (retrain,) = runpy.run_path(retrain_file)["dags"]
    (monitor,) = runpy.run_path(drift_file)["dags"]
    night = retrain.test(logical_date=land(frame.iloc[:600], 1))
    shifted = frame.iloc[600:1200].copy()
    shifted["tenure_months"] += 30
    shifted["monthly_charges"] *= 1.6
    window = monitor.test(logical_date=land(shifted, 2))
    print("RESULTS=" + json.dumps({"states": [night.state, window.state],
                                   "score": returned(night, "score"),
                                   "check_drift": returned(window, "check_drift")}))
""")


@pytest.fixture(scope="module")
def deployed_events(airflow_db, tmp_path_factory):
    """The OpenLineage events of a night that promotes and scores, then a drifted window."""
    import yaml

    root = tmp_path_factory.mktemp("lineage-deployed")
    log, configs = root / "openlineage.jsonl", root / "configs"
    config = yaml.safe_load((REPO / "dags" / "models" / "churn.yaml").read_text())
    config["suite"] = str(REPO / "expectations" / "churn.json")
    config["deployment"] = {"scoring": {
        "output_uri": "${AIRFLOW_MLOPS_DATA_ROOT}/predictions/ds={{ ds }}/part.parquet",
        "key_columns": ["customer_id"]}}
    configs.mkdir()
    (configs / "churn.yaml").write_text(yaml.safe_dump(config))
    env = {
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
            {"type": "file", "log_file_path": str(log), "append": True}),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "tests",
        "AIRFLOW_MLOPS_DATA_ROOT": str(root / "data"),
        "AIRFLOW_MLOPS_CONFIGS": str(configs),
        "AIRFLOW_CONN_MLFLOW_DEFAULT": json.dumps({
            "conn_type": "mlflow", "host": f"sqlite:///{root / 'mlflow.db'}",
            "extra": {"artifact_location": str(root / "artifacts")}}),
    }
    done = subprocess.run(
        [sys.executable, "-c", SCORED_NIGHTS, str(root / "data"),
         str(REPO / "demo" / "data" / "customers.csv"), str(REPO / "dags" / "nightly_retrain.py"),
         str(REPO / "dags" / "drift_monitor.py")],
        env={**os.environ, **env}, capture_output=True, text=True, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout.split("RESULTS=", 1)[1].splitlines()[0])
    assert results["states"] == ["success", "success"], done.stderr[-3000:]
    found = [json.loads(line) for line in log.read_text().splitlines()]
    return found, results, root / "data"


def own_facet_schema(name: str) -> dict:
    """The definition of our facet ``name`` in its published schema (the RunFacet part is
    OpenLineage's own and checked by its client)."""
    return json.loads((SCHEMAS / f"{name}.json").read_text())["$defs"][name]["allOf"][1]


def test_score_reads_the_champion_version_and_the_data_and_writes_the_predictions(
        deployed_events):
    found, results, data = deployed_events
    scored = results["score"]
    (score,) = completed(found, "score")
    assert [(d["namespace"], d["name"]) for d in score["inputs"]] == [
        ("mlflow://localhost", f"models/churn/{scored['version']}"),
        ("file", str(data / "customers" / "ds=2026-04-01" / "customers.csv"))]
    assert scored["version"] in ("1", 1)  # the champion the night just promoted
    (predictions,) = score["outputs"]
    assert (predictions["namespace"], predictions["name"]) == (
        "file", str(data / "predictions" / "ds=2026-04-01" / "part.parquet"))
    assert predictions["outputFacets"]["outputStatistics"]["rowCount"] == scored["rows"] == 600
    assert Path(predictions["name"]).exists()


def test_check_drift_reads_both_windows_and_reports_the_drift_scores(deployed_events):
    import jsonschema

    found, results, data = deployed_events
    summary = results["check_drift"]
    (check,) = completed(found, "check_drift")
    assert [(d["namespace"], d["name"]) for d in check["inputs"]] == [
        ("file", str(data / "customers" / f"ds=2026-04-0{day}" / "customers.csv"))
        for day in (1, 2)]
    facet = check["run"]["facets"][facets.DRIFT_FACET]
    assert facet["_schemaURL"] == facets.schema_url("AirflowMlopsDriftRunFacet")
    jsonschema.validate(facet, own_facet_schema("AirflowMlopsDriftRunFacet"))
    assert (facet["model"], facet["championVersion"], facet["drifted"]) == ("churn", "1", True)
    assert facet["share"] == summary["share"] and facet["driftShare"] == summary["drift_share"]
    assert facet["columns"] == {
        name: {key: column[key] for key in ("method", "score", "drifted")}
        for name, column in summary["per_column"].items()}
    assert facet["columns"]["tenure_months"]["drifted"] is True


def test_every_emitted_custom_facet_matches_its_published_schema(events, deployed_events):
    import jsonschema

    schemas = {facets.DECISION_FACET: own_facet_schema("AirflowMlopsDecisionRunFacet"),
               facets.DRIFT_FACET: own_facet_schema("AirflowMlopsDriftRunFacet")}
    checked = set()
    for event in [*events[0], *deployed_events[0]]:
        for key, facet in event.get("run", {}).get("facets", {}).items():
            if key in schemas:
                jsonschema.validate(facet, schemas[key])
                checked.add((key, event["job"]["name"].rsplit(".", 1)[-1]))
    assert checked == {(facets.DECISION_FACET, "evaluate"), (facets.DECISION_FACET, "promote"),
                       (facets.DRIFT_FACET, "check_drift")}
