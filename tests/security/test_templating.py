"""Jinja in DAG params or run conf reaches our operators as literal text, never as code.

Airflow renders a templated field once; a param's value is data inside that rendering and is
not rendered again. The test proves it in real DAG runs: the data set really lives in a folder
whose name is the Jinja payload, so the validation finds it only if the operator receives the
literal string (rendered again, ``{{ 7*7 }}`` would become ``49``, a folder that does not exist).
"""

from __future__ import annotations

import datetime as dt
import runpy
import textwrap

import pytest

DAG_FILE = textwrap.dedent('''
    import datetime as dt

    from airflow.sdk import DAG

    from airflow_mlops.operators.templating import TrustedTemplate
    from airflow_mlops.operators.validation import ValidateDataOperator

    with DAG(
        dag_id="templating_probe",
        schedule=None,
        start_date=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
        params={"folder": "unset"},
    ) as dag:
        ValidateDataOperator(
            task_id="validate",
            data_uri=TrustedTemplate("{{ params.folder }}/customers.csv"),
            suite=SUITE,
            results_uri=RESULTS + "/{{ params.folder | replace('/', '_') }}",
        )
''')

PAYLOADS = [
    "{{ 7*7 }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{% for i in range(3) %}{{ i }}{% endfor %}",
    "{{ params.folder }}",
]


@pytest.fixture
def run_probe(airflow_db, churn_suite, tmp_path, dag_bundle):
    """Run the probe DAG once with ``run_conf``; return its run and the validate task's XCom."""
    dags = dag_bundle
    path = dags / "templating_probe.py"
    path.write_text(f"SUITE = {str(churn_suite)!r}\nRESULTS = {str(tmp_path / 'results')!r}\n"
                    + DAG_FILE)

    def run(conf: dict):
        from airflow.models.xcom import XComModel
        from airflow.utils.session import create_session

        dag = runpy.run_path(str(path))["dag"]
        dagrun = dag.test(logical_date=dt.datetime(2026, 1, 2, tzinfo=dt.timezone.utc),
                          run_conf=conf)
        with create_session() as session:
            row = session.scalars(XComModel.get_many(
                run_id=dagrun.run_id, dag_ids=dag.dag_id, task_ids="validate",
                key="return_value")).first()
            summary = XComModel.deserialize_value(row) if row is not None else None
        return dagrun.state, summary

    return run


@pytest.mark.parametrize("payload", PAYLOADS)
def test_jinja_in_run_conf_reaches_the_operator_as_literal_text(run_probe, tmp_path, customers,
                                                                payload):
    folder = tmp_path / "data" / payload
    folder.mkdir(parents=True)
    customers.head(600).to_csv(folder / "customers.csv", index=False)

    state, summary = run_probe({"folder": str(folder)})

    assert state == "success", summary
    assert summary["data"] == f"{folder}/customers.csv"  # exactly the text that was passed
    assert summary["rows"] == 600
    assert not (tmp_path / "data" / "49").exists()
