"""Config text in operator fields: rendered once by the config rules, the rest by Airflow's."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from airflow.sdk import DAG
from airflow.sdk.exceptions import AirflowFailException

from airflow_mlops.operators.deployment import ReloadEndpointOperator
from airflow_mlops.operators.extract import ExtractQueryOperator
from airflow_mlops.operators.templating import TrustedTemplate, requested_window_ds


def event(ds: str | None, day: int):
    extra = {"window": {"ds": ds}} if ds else {}
    return SimpleNamespace(extra=extra, timestamp=dt.datetime(2026, 3, day))


def test_requested_window_ds_takes_the_newest_event():
    events = {"a": [event("2026-03-04", 4)], "b": [event("2026-03-01", 6)]}

    assert requested_window_ds(events, None) == "2026-03-01"


@pytest.mark.parametrize("ds", ["../../etc", "2026-03-01/../../x", "2026-13-01", "{{ 7*7 }}"])
def test_requested_window_ds_accepts_only_a_date(ds):
    with pytest.raises(ValueError, match="window date .* is not a date"):
        requested_window_ds({"a": [event(ds, 1)]}, None)


@pytest.fixture
def dag():
    return DAG("templating", schedule=None, start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))


def context_of(dag, task_id: str, **values) -> dict:
    return {"dag": dag, "ti": SimpleNamespace(task_id=task_id, xcom_pull=lambda **_: "7"),
            "ds": "2026-03-05", "ds_nodash": "20260305",
            "data_interval_start": dt.datetime(2026, 3, 5, tzinfo=dt.UTC), **values}


def test_config_fields_use_the_allow_list_and_other_fields_airflow_jinja(dag):
    reload = ReloadEndpointOperator(
        task_id="reload", http_conn_id="serving", dag=dag,
        endpoint="/reload/{{ dag_id }}/{{ task_id }}/{{ ds_nodash }}/"
                 "{{ data_interval_start | ts_nodash }}",
        payload={"version": "{{ ti.xcom_pull(task_ids='promote') }}"},
    )

    reload.render_template_fields(context_of(dag, "reload"), dag.get_template_env())

    assert reload.endpoint == "/reload/templating/reload/20260305/20260305T000000"
    assert reload.payload == {"version": "7"}


def test_a_config_field_is_rendered_once_never_again_by_airflow(dag):
    extract = ExtractQueryOperator(
        task_id="extract", conn_id="warehouse", output_uri="/lake/{{ ds }}.parquet", dag=dag,
        sql="SELECT '{% raw %}{{ ti.xcom_pull() }}{% endraw %}' AS x -- {{ ds }}",
    )
    context = context_of(dag, "extract")

    extract.render_template_fields(context, dag.get_template_env())
    extract.render_template_fields(context, dag.get_template_env())

    assert extract.sql == "SELECT '{{ ti.xcom_pull() }}' AS x -- 2026-03-05"
    assert extract.output_uri == "/lake/2026-03-05.parquet"


def test_config_text_ending_in_sql_is_not_read_as_a_template_file(dag, tmp_path):
    dag.template_searchpath = [str(tmp_path)]
    (tmp_path / "query.sql").write_text("SELECT 1")
    extract = ExtractQueryOperator(task_id="extract", conn_id="w", output_uri="/x", dag=dag,
                                   sql="query.sql")

    dag.resolve_template_files()

    assert extract.sql == "query.sql"


def test_config_text_breaking_the_rules_fails_the_task_unretried(dag):
    extract = ExtractQueryOperator(task_id="extract", conn_id="w", output_uri="/x", dag=dag,
                                   sql="SELECT '{{ ti.task_id }}'")

    with pytest.raises(AirflowFailException, match=r"field 'sql' of task extract: attribute"):
        extract.render_template_fields(context_of(dag, "extract"), dag.get_template_env())


def test_a_dag_author_may_pass_trusted_text_to_airflow_jinja(dag):
    extract = ExtractQueryOperator(task_id="extract", conn_id="w", output_uri="/x", dag=dag,
                                   sql=TrustedTemplate("SELECT '{{ ti.task_id }}'"))

    extract.render_template_fields(context_of(dag, "extract"), dag.get_template_env())

    assert extract.sql == "SELECT 'extract'"
