"""``airflow-mlops validate --db/--conn-id``: a table or query validated inside its database."""

from __future__ import annotations

import json
import sqlite3

import pytest

from airflow_mlops.cli.common import EXIT_FAILED, EXIT_OK, EXIT_UNUSABLE
from airflow_mlops.cli.main import main


@pytest.fixture
def db(tmp_path, customers) -> str:
    path = tmp_path / "warehouse.db"
    frame = customers.head(700).copy()
    frame.loc[:2, "region"] = "mars"
    with sqlite3.connect(path) as connection:
        frame.to_sql("customers", connection, index=False)
    return f"sqlite:///{path}"


def test_a_failing_table_prints_the_table_and_exits_1(db, churn_suite, capsys):
    code = main(["validate", "--db", db, "--table", "customers", "--suite", str(churn_suite)])
    out = capsys.readouterr().out
    assert code == EXIT_FAILED
    assert out.startswith(f"table customers on {db} failed 1 of 12 expectations")
    assert "region  expect_column_values_to_be_in_set" in out and '"mars"' in out


def test_a_passing_partition_exits_0_with_json(db, churn_suite, capsys):
    code = main(["validate", "--db", db, "--table", "customers", "--where", "region <> 'mars'",
                 "--suite", str(churn_suite), "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert code == EXIT_OK and summary["success"] and summary["rows"] == 697


def test_a_query_and_reports(db, churn_suite, tmp_path, capsys):
    code = main(["validate", "--db", db, "--sql", "SELECT * FROM customers WHERE region "
                 "<> 'mars'", "--suite", str(churn_suite), "--report", str(tmp_path / "r")])
    assert code == EXIT_OK
    assert (tmp_path / "r" / "validation_result.json").exists()


def test_an_airflow_connection(db, churn_suite, monkeypatch, capsys):
    monkeypatch.setenv("AIRFLOW_CONN_WH", json.dumps({"conn_type": "sqlite",
                                                      "host": db.removeprefix("sqlite:///")}))
    code = main(["validate", "--conn-id", "wh", "--table", "customers", "--suite",
                 str(churn_suite), "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert code == EXIT_FAILED and summary["data"] == "table customers on connection wh"


def test_a_missing_table_exits_2(db, churn_suite, capsys):
    code = main(["validate", "--db", db, "--table", "nowhere", "--suite", str(churn_suite)])
    assert code == EXIT_UNUSABLE
    assert "table 'nowhere' does not exist" in capsys.readouterr().out


def test_a_refusing_database_exits_2_with_one_line(churn_suite, capsys):
    code = main(["validate", "--db", "postgresql+psycopg2://postgres@127.0.0.1:1/x",
                 "--table", "t", "--suite", str(churn_suite)])
    assert code == EXIT_UNUSABLE
    assert capsys.readouterr().err.startswith("error: postgresql+psycopg2://postgres@"
                                              "127.0.0.1:1/x: the database refused")


@pytest.mark.parametrize("argv, message", [
    (["--table", "customers"], "--table, --sql and --where need --db or --conn-id"),
    (["--db", "sqlite:///x.db"], "need --table or --sql"),
    (["data.csv", "--db", "sqlite:///x.db", "--table", "t"], "not both"),
    ([], "give a data file, or --db"),
])
def test_mixed_or_missing_sources_are_refused(argv, message, churn_suite, capsys):
    assert main(["validate", *argv, "--suite", str(churn_suite)]) == EXIT_UNUSABLE
    assert message in capsys.readouterr().err
