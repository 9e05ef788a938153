"""ValidateDataOperator in real DAG runs (dag.test on SQLite Airflow), with real GX and files.

dag.test() needs the DAG in a configured DAG bundle ("dag is not serialized" otherwise), so
each test writes its DAG file into tmp_path and adds that folder as a second local bundle
next to the default dags-folder bundle.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import runpy
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from airflow_mlops.core.errors import ConfigError

LOGICAL_DATE = dt.datetime(2026, 1, 2, tzinfo=dt.timezone.utc)
DAG_FILE = textwrap.dedent('''
    import datetime as dt
    import json

    from airflow.providers.standard.operators.empty import EmptyOperator
    from airflow.sdk import DAG

    from airflow_mlops.operators.validation import ValidateDataOperator

    with DAG(
        dag_id={dag_id!r},
        schedule="@daily",
        start_date=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
        catchup=False,
        default_args={{"retries": 2, "retry_delay": dt.timedelta(seconds=1)}},
    ) as dag:
        validate = ValidateDataOperator(task_id="validate", **json.loads({kwargs!r}))
        validate >> EmptyOperator(task_id="downstream")
''')


AIRFLOW_URL = "https://airflow.example.com"


def served(run, name: str = "validation_report.html") -> str:
    """The report endpoint's address of the validate task's report ``name``."""
    from airflow_mlops.core.urls import report_url

    return report_url(AIRFLOW_URL, dag_id=run.dag_id, run_id=run.run_id, task_id="validate",
                      name=name)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Run:
    """One finished DAG run: its state, task states and the validate task's XComs."""

    def __init__(self, dagrun):
        from airflow.models.xcom import XComModel
        from airflow.utils.session import create_session

        self.state = dagrun.state
        self.dag_id, self.run_id = dagrun.dag_id, dagrun.run_id
        with create_session() as session:
            self.tasks = {ti.task_id: ti.state for ti in dagrun.get_task_instances(session=session)}
            self.tries = {ti.task_id: ti.try_number
                          for ti in dagrun.get_task_instances(session=session)}
            rows = session.query(XComModel).filter_by(
                dag_id=dagrun.dag_id, run_id=dagrun.run_id, task_id="validate").all()
            self.xcom = {row.key: row.value for row in rows}
        self.summary = self.xcom.get("return_value")


@pytest.fixture
def run_dag(airflow_db, tmp_path, dag_bundle, monkeypatch):
    """Write a one-operator DAG file into a tmp bundle and run it once with dag.test()."""
    folder = dag_bundle
    monkeypatch.setenv("AIRFLOW__MLOPS__RESULTS_BASE_URI", str(tmp_path / "results"))
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", AIRFLOW_URL)

    def run(dag_id: str, **kwargs) -> Run:
        path = folder / f"{dag_id}.py"
        path.write_text(DAG_FILE.format(dag_id=dag_id, kwargs=json.dumps(kwargs)))
        dag = runpy.run_path(str(path))["dag"]
        return Run(dag.test(logical_date=LOGICAL_DATE))

    return run


@pytest.fixture
def partition(tmp_path, customers) -> Path:
    """The run's partition, ds=2026-01-02, with good data."""
    path = tmp_path / "data" / "ds=2026-01-02" / "customers.csv"
    path.parent.mkdir(parents=True)
    customers.head(900).to_csv(path, index=False)
    return path


@pytest.fixture
def bad_partition(partition, customers) -> Path:
    frame = customers.head(900).copy()
    frame.loc[5, "tenure_months"] = 999
    frame.to_csv(partition, index=False)
    return partition


def templated(partition: Path) -> str:
    return str(partition).replace("ds=2026-01-02", "ds={{ ds }}")


def results_folder(tmp_path: Path, dag_id: str, run) -> Path:
    run_id = json.dumps(run.summary["report"]).split("/validation/")[1].split("/")[1]
    return tmp_path / "results" / "validation" / dag_id / run_id / "validate"


def test_good_data_passes_and_reports(run_dag, partition, churn_suite, tmp_path):
    before = digest(partition)
    run = run_dag("validate_pass", data_uri=templated(partition), suite=str(churn_suite))
    assert run.state == "success"
    assert run.tasks == {"validate": "success", "downstream": "success"}
    summary = run.summary
    assert (summary["success"], summary["rows"], summary["failed"]) == (True, 900, 0)
    assert summary["data"] == str(partition)  # the data interval picked the partition
    assert len(json.dumps(summary)) <= 4096
    report = Path(summary["report"].removeprefix("file://"))
    assert report.parent == results_folder(tmp_path, "validate_pass", run)
    assert "passed" in report.read_text()
    assert json.loads((report.parent / "validation_result.json").read_text())["success"]
    assert run.xcom["report_location"] == summary["report"]
    # What the UI's link shows: the plugin's endpoint, which serves the file pushed here.
    assert run.xcom["_link_ReportLink"] == served(run)
    assert run.xcom["mlops_reports"] == {"validation_report.html": summary["report"]}
    assert run.xcom["_link_MlflowRunLink"] == ""  # no MLflow run: no button
    assert digest(partition) == before


def test_fail_pushes_the_summary_quarantines_and_fails_without_retry(
        run_dag, bad_partition, churn_suite, tmp_path, capfd):
    before = digest(bad_partition)
    quarantine = tmp_path / "quarantine" / "{{ ds }}"
    run = run_dag("validate_fail", data_uri=templated(bad_partition), suite=str(churn_suite),
                  quarantine_to=str(quarantine))
    assert run.state == "failed"
    assert run.tasks == {"validate": "failed", "downstream": "upstream_failed"}
    assert run.tries["validate"] == 1  # AirflowFailException: retries=2 not used
    summary = run.summary
    assert (summary["success"], summary["failed"], summary["evaluated"]) == (False, 1, 12)
    (failure,) = summary["failures"]
    assert failure["column"] == "tenure_months"
    assert failure["expectation"] == "expect_column_values_to_be_between"
    assert failure["examples"] == [999]
    assert failure["unexpected_percent"] == pytest.approx(100 / 900, abs=1e-4)
    copy = tmp_path / "quarantine" / "2026-01-02" / "customers.csv"
    assert summary["quarantined_to"] == f"file://{copy}"
    assert digest(copy) == before
    assert digest(bad_partition) == before  # the original stays where it was, unchanged
    report = Path(summary["report"].removeprefix("file://"))
    assert "tenure_months" in report.read_text()
    assert run.xcom["_link_ReportLink"] == served(run)
    logs = capfd.readouterr().out
    assert f"{bad_partition} failed 1 of 12 expectations of suite {churn_suite}: " \
           "tenure_months: expect_column_values_to_be_between: 1 of 900 values" in logs
    assert f"Full report: {summary['report']}" in logs


def test_warn_lets_downstream_run(run_dag, bad_partition, churn_suite):
    run = run_dag("validate_warn", data_uri=str(bad_partition), suite=str(churn_suite),
                  on_failure="warn")
    assert run.state == "success"
    assert run.tasks == {"validate": "success", "downstream": "success"}
    assert run.summary["success"] is False
    assert run.summary["failures"][0]["column"] == "tenure_months"


def test_skip_skips_downstream_and_the_run_stays_green(run_dag, bad_partition, churn_suite):
    run = run_dag("validate_skip", data_uri=str(bad_partition), suite=str(churn_suite),
                  on_failure="skip")
    assert run.state == "success"
    assert run.tasks == {"validate": "skipped", "downstream": "skipped"}
    assert run.summary["failed"] == 1
    assert run.xcom["_link_ReportLink"] == served(run)


def test_dry_run_reports_but_neither_fails_nor_quarantines(run_dag, bad_partition,
                                                           churn_suite, tmp_path):
    run = run_dag("validate_dry_run", data_uri=str(bad_partition), suite=str(churn_suite),
                  dry_run=True, quarantine_to=str(tmp_path / "quarantine"))
    assert run.tasks == {"validate": "success", "downstream": "success"}
    assert run.summary["success"] is False
    assert run.summary["quarantined_to"] is None
    assert not (tmp_path / "quarantine").exists()


def test_unusable_data_follows_the_policy_and_is_quarantined(run_dag, partition, churn_suite,
                                                             tmp_path):
    partition.write_bytes(b"")
    run = run_dag("validate_empty_file", data_uri=str(partition), suite=str(churn_suite),
                  on_failure="skip", quarantine_to=str(tmp_path / "quarantine"))
    assert run.tasks == {"validate": "skipped", "downstream": "skipped"}
    assert run.summary["error"] == f"{partition}: file is empty (0 bytes)"
    assert (tmp_path / "quarantine" / "customers.csv").read_bytes() == b""
    assert partition.exists()


def test_a_broken_suite_always_fails(run_dag, partition, tmp_path):
    suite = tmp_path / "suite.json"
    suite.write_text('{"expectations": [{"type": "expect_nothing", "kwargs": {}}]}')
    run = run_dag("validate_bad_suite", data_uri=str(partition), suite=str(suite),
                  on_failure="warn")
    assert run.tasks == {"validate": "failed", "downstream": "upstream_failed"}
    assert run.summary is None
    assert run.xcom["_link_ReportLink"] == ""  # no report: the link stays empty


def test_sql_through_a_connection(run_dag, warehouse, churn_suite, tmp_path):
    run = run_dag("validate_sql", sql="SELECT * FROM customers WHERE churned IN (0, 1)",
                  conn_id="warehouse", suite=str(churn_suite))
    assert run.tasks["validate"] == "success"
    assert run.summary["rows"] == 700
    assert run.summary["data"] == \
        "query on warehouse: SELECT * FROM customers WHERE churned IN (0, 1)"

    run = run_dag("validate_sql_fail", sql="SELECT *, 1 AS extra FROM customers",
                  conn_id="warehouse", suite=str(churn_suite),
                  quarantine_to=str(tmp_path / "q"))
    assert run.tasks["validate"] == "failed"
    assert run.summary["failures"][0]["reason"] == "unexpected column(s) 'extra'"
    import pandas as pd

    assert len(pd.read_parquet(tmp_path / "q" / "validate.parquet")) == 700

    run = run_dag("validate_sql_error", sql="SELECT * FROM nowhere", conn_id="warehouse",
                  suite=str(churn_suite), on_failure="warn")
    assert run.tasks["validate"] == "success"
    assert run.summary["error"].startswith("query on warehouse: SELECT * FROM nowhere: "
                                           "the query failed: ")
    assert "no such table: nowhere" in run.summary["error"]


def test_reports_go_to_the_mlflow_run_when_given(run_dag, mlflow_connection, bad_partition,
                                                 churn_suite, tmp_path):
    from mlflow import MlflowClient

    client = MlflowClient(mlflow_connection)
    mlflow_run = client.create_run(
        client.create_experiment("validation", artifact_location=str(tmp_path / "artifacts"))
    )
    run = run_dag("validate_mlflow", data_uri=str(bad_partition), suite=str(churn_suite),
                  mlflow_run_id=mlflow_run.info.run_id, on_failure="warn")
    expected = f"{mlflow_run.info.artifact_uri}/validation/validate/validation_report.html"
    assert run.summary["report"] == expected
    assert run.xcom["_link_ReportLink"] == served(run)  # a SQLite store has no web UI
    assert run.xcom["mlops_reports"] == {
        "validation_report.html":
            f"runs:/{mlflow_run.info.run_id}/validation/validate/validation_report.html"}
    artifacts = client.list_artifacts(mlflow_run.info.run_id, "validation/validate")
    assert {a.path.rsplit("/", 1)[1] for a in artifacts} == {"validation_report.html",
                                                            "validation_result.json"}


@pytest.mark.parametrize(("kwargs", "message"), [
    ({}, "give exactly one of data_uri, sql or table"),
    ({"data_uri": "a.csv", "sql": "SELECT 1"}, "give exactly one of data_uri, sql or table"),
    ({"sql": "SELECT 1"}, "sql and table need conn_id"),
    ({"table": "public.customers"}, "sql and table need conn_id"),
    ({"data_uri": "a.csv", "on_failure": "retry"}, "on_failure='retry' is not one of"),
])
def test_bad_arguments_fail_when_the_dag_is_parsed(kwargs, message):
    from airflow_mlops.operators.validation import ValidateDataOperator

    with pytest.raises(ConfigError, match=message):
        ValidateDataOperator(task_id="validate", suite="s.json", **kwargs)


def test_the_template_shape_and_defaults_still_work():
    from airflow_mlops.operators.validation import ValidateDataOperator

    operator = ValidateDataOperator(task_id="validate", data_uri="d/{{ ds }}.csv",
                                    suite="expectations/churn.json")
    assert (operator.on_failure, operator.dry_run, operator.quarantine_to) == ("fail", False,
                                                                               None)
    assert {"data_uri", "suite", "sql", "quarantine_to", "results_uri", "mlflow_run_id"} <= \
        set(operator.template_fields)
    assert [link.name for link in operator.operator_extra_links] == ["Report", "MLflow run"]


def test_importing_the_operator_loads_no_heavy_library():
    code = ("import sys, airflow_mlops.operators.validation, airflow_mlops.operators.links; "
            "heavy = {'pandas', 'pyarrow', 'great_expectations', 'mlflow', 'sklearn', "
            "'evidently'}; "
            "print(sorted(heavy & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_the_provider_declares_the_link_and_the_results_option():
    from airflow_mlops.get_provider_info import get_provider_info

    info = get_provider_info()
    assert "airflow_mlops.operators.links.ReportLink" in info["extra-links"]
    assert "results_base_uri" in info["config"]["mlops"]["options"]


# --- in the database ----------------------------------------------------------------------


def test_a_table_partition_is_validated_in_the_database(run_dag, warehouse, churn_suite):
    run = run_dag("validate_table", table="customers", conn_id="warehouse",
                  where="'{{ ds }}' = '2026-01-02' AND churned IN (0, 1)",
                  suite=str(churn_suite))
    assert run.tasks == {"validate": "success", "downstream": "success"}
    assert run.summary["rows"] == 700 and run.summary["evaluated"] == 12
    assert run.summary["data"] == ("table customers WHERE '2026-01-02' = '2026-01-02' AND "
                                   "churned IN (0, 1) on connection warehouse")
    assert Path(run.summary["report"]).name == "validation_report.html"


def test_a_failing_table_fails_without_retries_and_names_the_column(run_dag, warehouse,
                                                                    churn_suite):
    import sqlite3

    with sqlite3.connect(warehouse) as connection:
        connection.execute("UPDATE customers SET tenure_months = 999 WHERE rowid <= 3")
    run = run_dag("validate_table_fail", table="customers", conn_id="warehouse",
                  suite=str(churn_suite))
    assert run.tasks == {"validate": "failed", "downstream": "upstream_failed"}
    assert run.tries["validate"] == 1
    failure = run.summary["failures"][0]
    assert (failure["column"], failure["examples"]) == ("tenure_months", [999])


def test_a_missing_table_is_reported_with_its_connection(run_dag, warehouse, churn_suite):
    run = run_dag("validate_no_table", table="main.nowhere", conn_id="warehouse",
                  suite=str(churn_suite), on_failure="warn")
    assert run.tasks["validate"] == "success"
    assert run.summary["error"] == ("table main.nowhere on connection warehouse: table "
                                    "'nowhere' does not exist in schema 'main'")


def test_a_refusing_database_is_retried(run_dag, warehouse, churn_suite, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_DOWN", json.dumps({"conn_type": "postgres",
                                                        "host": "127.0.0.1", "port": 1}))
    run = run_dag("validate_down", table="customers", conn_id="down", suite=str(churn_suite))
    assert run.tasks["validate"] == "failed"
    assert run.tries["validate"] == 3  # retried: the database may come back
    assert run.summary is None


def test_a_query_validated_in_the_database_names_its_connection(run_dag, warehouse,
                                                                churn_suite):
    run = run_dag("validate_query_inside", sql="SELECT * FROM customers", conn_id="warehouse",
                  in_database=True, suite=str(churn_suite))
    assert run.tasks["validate"] == "success"
    assert run.summary["data"] == "query on connection warehouse: SELECT * FROM customers"


@pytest.mark.parametrize("kwargs, message", [
    ({"table": "customers"}, "sql and table need conn_id"),
    ({"table": "customers", "conn_id": "w", "quarantine_to": "/q"}, "stays there"),
    ({"table": "customers", "sql": "SELECT 1", "conn_id": "w"}, "exactly one of"),
])
def test_in_database_arguments_are_checked_when_the_dag_is_built(kwargs, message):
    from airflow_mlops.operators.validation import ValidateDataOperator

    with pytest.raises(ConfigError, match=message):
        ValidateDataOperator(task_id="v", suite="s.json", **kwargs)
    assert ValidateDataOperator(task_id="v", suite="s.json", table="t", conn_id="w")


def test_with_an_experiment_the_task_logs_to_its_own_named_run_and_a_rerun_reuses_it(
        run_dag, mlflow_connection, partition, churn_suite):
    from mlflow import MlflowClient

    client = MlflowClient(mlflow_connection)
    kwargs = {"data_uri": str(partition), "suite": str(churn_suite),
              "experiment_name": "churn-experiment", "model_name": "churn"}
    first = run_dag("validate_experiment", **kwargs)
    assert first.state == "success"
    experiment = client.get_experiment_by_name("churn-experiment")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.run_name == "churn validate 2026-01-02"
    assert run.info.status == "FINISHED"
    assert run.data.tags["airflow_mlops.run_id"] == first.run_id
    assert first.xcom["mlops_reports"] == {
        "validation_report.html": f"runs:/{run.info.run_id}/validation/validate/"
                                  "validation_report.html"}
    assert first.xcom["_link_ReportLink"] == served(first)

    from airflow_mlops.core.tracking import TrackingTarget, task_run, tracking_session

    lineage = {"dag_id": first.dag_id, "run_id": first.run_id, "task_id": "validate"}
    with tracking_session(TrackingTarget(mlflow_connection)):
        assert task_run(experiment.experiment_id, lineage=lineage, run_name="x") == \
            run.info.run_id  # what a retry of the task finds
        other = task_run(experiment.experiment_id, lineage={**lineage, "run_id": "other"},
                         run_name="x")
    assert other != run.info.run_id  # negative control: another DAG run gets its own run
