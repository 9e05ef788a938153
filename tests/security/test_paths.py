"""End to end: values from run conf and params cannot move quarantine copies or reports out of
their folders (real DAG runs with dag.test() on SQLite Airflow, real GX)."""

from __future__ import annotations

import datetime as dt
import runpy
import textwrap
from pathlib import Path

import pytest

LOGICAL_DATE = dt.datetime(2026, 1, 2, tzinfo=dt.timezone.utc)
DAG_FILE = textwrap.dedent('''
    import datetime as dt

    from airflow.sdk import DAG

    from airflow_mlops.operators.validation import ValidateDataOperator

    with DAG(
        dag_id={dag_id!r},
        schedule=None,
        start_date=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
        params={{"batch": "2026-01-02", "team": "core"}},
        default_args={{"retries": 2, "retry_delay": dt.timedelta(seconds=1)}},
    ) as dag:
        ValidateDataOperator(
            task_id="validate",
            data_uri={data!r},
            suite={suite!r},
            quarantine_to={quarantine!r} + "/{{{{ params.batch }}}}",
            results_uri={results!r} + "/{{{{ params.team }}}}",
        )
''')


@pytest.fixture
def jail(tmp_path, customers) -> Path:
    """``tmp_path/jail`` holds the failing data, the quarantine and the results folders;
    anything a test finds outside it escaped."""
    data = tmp_path / "jail" / "data" / "customers.csv"
    data.parent.mkdir(parents=True)
    bad = customers.head(300).copy()
    bad.loc[0, "tenure_months"] = 999
    bad.to_csv(data, index=False)
    return tmp_path / "jail"


@pytest.fixture
def run_validation(airflow_db, jail, churn_suite, dag_bundle):
    """Run the one-task DAG once with ``run_conf``; return the run and the task's try count."""
    folder = dag_bundle

    def run(dag_id: str, conf: dict):
        path = folder / f"{dag_id}.py"
        path.write_text(DAG_FILE.format(
            dag_id=dag_id, data=str(jail / "data" / "customers.csv"), suite=str(churn_suite),
            quarantine=str(jail / "quarantine"), results=str(jail / "results")))
        dag = runpy.run_path(str(path))["dag"]
        dagrun = dag.test(logical_date=LOGICAL_DATE, run_conf=conf)
        (ti,) = dagrun.get_task_instances()
        return dagrun.state, ti.try_number

    return run


def everything_under(tmp_path: Path) -> set[str]:
    return {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")
            if p.is_file() and "dags" not in p.parts}


def test_ordinary_params_quarantine_and_report_inside_their_folders(run_validation, jail,
                                                                    tmp_path):
    state, _ = run_validation("paths_ordinary", {"batch": "2026-01-02", "team": "risk"})

    assert state == "failed"  # the data is bad: the batch is quarantined, the report written
    assert everything_under(tmp_path) == {
        "jail/data/customers.csv",
        "jail/quarantine/2026-01-02/customers.csv",
        "jail/results/risk/validation_result.json",
        "jail/results/risk/validation_report.html",
    }


@pytest.mark.parametrize(("conf", "message", "written"), [
    ({"batch": "../../../outside"},
     "quarantine_to '{jail}/quarantine/../../../outside': a '..' segment climbs out", set()),
    ({"batch": "%2e%2e/%2e%2e/outside"},
     "quarantine_to '{jail}/quarantine/%2e%2e/%2e%2e/outside': segment '%2e%2e' hides '..'",
     set()),
    ({"team": "../../../etc"},
     "results_uri '{jail}/results/../../../etc': a '..' segment climbs out",
     {"jail/quarantine/2026-01-02/customers.csv"}),  # the default batch is harmless
], ids=["quarantine-dot-dot", "quarantine-url-encoded", "results-dot-dot"])
def test_traversal_in_run_conf_fails_the_task_once_and_writes_nothing_outside(
        run_validation, jail, tmp_path, capfd, conf, message, written):
    state, tries = run_validation("paths_hostile", conf)

    assert (state, tries) == ("failed", 1)  # refused outright: a retry cannot help
    assert message.format(jail=jail) in capfd.readouterr().out
    assert everything_under(tmp_path) == {"jail/data/customers.csv", *written}


def test_airflow_itself_refuses_a_run_id_with_dot_dot():
    """The default results folder holds the run id; Airflow refuses '..' in it, and
    ``require_under`` (tests/core/test_paths.py) keeps the folder inside the results base."""
    from airflow.models.dagrun import DagRun

    with pytest.raises(ValueError, match="must not contain '..' to prevent path traversal"):
        DagRun(dag_id="d", run_id="../../etc")
