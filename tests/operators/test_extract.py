"""ExtractQueryOperator on a real SQL connection (a SQLite file through common.sql)."""

from __future__ import annotations

import pandas as pd
import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_mlops.core.sql_sources import SqlUnreachableError
from airflow_mlops.operators.extract import ExtractQueryOperator


def extract(sql: str, output_uri: str, conn_id: str = "warehouse", **kwargs) -> dict:
    operator = ExtractQueryOperator(task_id="extract", sql=sql, conn_id=conn_id,
                                    output_uri=output_uri, **kwargs)
    return operator.execute(context={})


def test_query_result_lands_as_parquet(warehouse, customers, tmp_path):
    target = tmp_path / "data" / "ds=2026-03-01" / "part.parquet"

    out = extract("SELECT * FROM customers WHERE region = 'north'", str(target))

    landed = pd.read_parquet(target)
    expected = customers.head(700).query("region == 'north'")
    assert out == {"rows": len(expected), "uri": str(target)}
    assert list(landed.columns) == list(customers.columns)
    assert landed["customer_id"].tolist() == expected["customer_id"].tolist()
    assert [p.name for p in target.parent.iterdir()] == ["part.parquet"]  # no partial file left


def test_a_rerun_replaces_the_file_whole(warehouse, tmp_path):
    target = tmp_path / "part.csv"
    extract("SELECT * FROM customers", str(target))
    extract("SELECT * FROM customers LIMIT 5", str(target))
    assert len(pd.read_csv(target)) == 5


def test_failing_query_names_the_connection_and_writes_nothing(warehouse, tmp_path):
    target = tmp_path / "part.parquet"
    with pytest.raises(AirflowFailException, match="query on connection warehouse: SELECT "
                       "\\* FROM nowhere: the query failed: .*no such table"):
        extract("SELECT * FROM nowhere", str(target))
    assert not target.exists()


def test_empty_result_is_refused(warehouse, tmp_path):
    target = tmp_path / "part.parquet"
    with pytest.raises(AirflowFailException, match="query on connection warehouse.*no rows"):
        extract("SELECT * FROM customers WHERE 1 = 0", str(target))
    assert not target.exists()


def test_max_rows_lands_a_sample_drawn_in_the_database(warehouse, tmp_path):
    target = tmp_path / "part.parquet"
    out = extract("SELECT * FROM customers", str(target), max_rows=40, seed=3,
                  key_column="customer_id", chunk_rows=16)
    assert out == {"rows": 40, "source_rows": 700, "uri": str(target)}
    assert len(pd.read_parquet(target)) == 40


def test_a_refusing_database_is_left_to_retries(warehouse, monkeypatch, tmp_path):
    import json

    monkeypatch.setenv("AIRFLOW_CONN_DOWN", json.dumps({"conn_type": "postgres",
                                                        "host": "127.0.0.1", "port": 1}))
    with pytest.raises(SqlUnreachableError, match="the database refused"):  # not a no-retry
        extract("SELECT 1", str(tmp_path / "part.parquet"), conn_id="down")


def test_sql_and_output_are_templated():
    assert set(ExtractQueryOperator.template_fields) == {"sql", "output_uri"}
