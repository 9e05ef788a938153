"""A nightly model whose data is a PostgreSQL table, end to end on the stack.

The night's partition (``ds``) of ``public.nightly_customers`` in database
``mlops_wh_stack`` is validated inside PostgreSQL, landed as Parquet in chunks, trained on,
evaluated and promoted; a night with broken rows is stopped at validation, in the database,
with the failing column and its examples in the summary.
"""

from __future__ import annotations

import datetime as dt
import urllib.parse

import pytest

from airflow_mlops.core.registry import CHAMPION, alias_version

pytestmark = pytest.mark.stack

DAG_ID = "nightly_retrain_churn_warehouse"
MODEL = "churn_warehouse"
DATABASE = "mlops_wh_stack"
CONN_ID = "stack_warehouse"


@pytest.fixture
def warehouse(api, stack_env, customers):
    """Database ``mlops_wh_stack`` with two nights of customers, the second one broken, and
    connection ``stack_warehouse`` to it; dropped afterwards."""
    import sqlalchemy as sa

    server = urllib.parse.urlsplit(stack_env.get("STACK_PG_URL",
                                                 "postgresql://postgres@127.0.0.1:5432"))
    base = f"postgresql+psycopg2://{server.netloc}"
    admin = sa.create_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
        connection.execute(sa.text(f"CREATE DATABASE {DATABASE}"))
    size = len(customers) // 3
    good = customers.iloc[:size].assign(ds="2026-06-01")
    broken = customers.iloc[size:2 * size].assign(ds="2026-06-02")
    broken.loc[broken.index[:25], "tenure_months"] = -1
    engine = sa.create_engine(f"{base}/{DATABASE}")
    import pandas as pd

    pd.concat([good, broken]).to_sql("nightly_customers", engine, index=False)
    engine.dispose()
    connection = {"connection_id": CONN_ID, "conn_type": "postgres",
                  "host": server.hostname, "port": server.port or 5432,
                  "login": server.username or "postgres", "schema": DATABASE}
    try:
        api.delete(f"/api/v2/connections/{CONN_ID}")
    except AssertionError:
        pass
    api.post("/api/v2/connections", connection)
    api.fresh_dag(DAG_ID)
    yield
    api.delete(f"/api/v2/connections/{CONN_ID}")
    with admin.connect() as connection:
        connection.execute(sa.text(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
    admin.dispose()


def test_a_table_model_validates_in_the_database_trains_and_promotes(api, warehouse,
                                                                     mlflow_client, run_id):
    from mlflow.exceptions import MlflowException

    try:
        mlflow_client.delete_registered_model(MODEL)
    except MlflowException:
        pass
    night, broken = run_id("warehouse"), run_id("warehouse_broken")
    api.trigger(dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc), night, dag_id=DAG_ID)
    assert api.wait(night, dag_id=DAG_ID) == "success", api.explain(night, DAG_ID)

    summary = api.xcom(night, "validate", dag_id=DAG_ID)
    assert summary["success"] and summary["rows"] > 0
    assert summary["data"].startswith(f"query on connection {CONN_ID}: SELECT customer_id")
    validate = api.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{night}/taskInstances/validate")
    assert "ds = '2026-06-01'" in validate["rendered_fields"]["sql"]  # the night's partition
    landed = api.xcom(night, "extract", dag_id=DAG_ID)
    assert landed["rows"] == summary["rows"] and landed["uri"].endswith(".parquet")
    assert alias_version(mlflow_client, MODEL, CHAMPION) == "1"

    api.trigger(dt.datetime(2026, 6, 2, tzinfo=dt.timezone.utc), broken, dag_id=DAG_ID)
    assert api.wait(broken, dag_id=DAG_ID) == "failed"
    states = api.task_states(broken, DAG_ID)
    assert states["validate"] == "failed" and states["extract"] == "upstream_failed"
    failure = api.xcom(broken, "validate", dag_id=DAG_ID)["failures"][0]
    assert (failure["column"], failure["examples"]) == ("tenure_months", [-1])
    assert alias_version(mlflow_client, MODEL, CHAMPION) == "1"
