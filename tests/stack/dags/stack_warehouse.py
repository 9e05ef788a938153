"""The churn model with its nightly data in a PostgreSQL table (test_warehouse_on_stack.py).

Each night's rows are a query on connection ``stack_warehouse``: validated inside the
database, then streamed to Parquet for training. Another model name and DAG id than the real
churn DAG, so the two never share a registry entry.
"""

import os

from _churn import churn_config

from airflow_mlops.core.config import DataQuery
from airflow_mlops.templates.retrain import build_retrain_dag

COLUMNS = "customer_id, tenure_months, monthly_charges, support_calls, contract, region, churned"
QUERY = f"SELECT {COLUMNS} FROM public.nightly_customers WHERE ds = '{{{{ ds }}}}'"
ROOT = os.environ.get("AIRFLOW_MLOPS_DATA_ROOT", "/tmp")

config = churn_config().model_copy(update={
    "name": "churn_warehouse",
    "data_uri": f"{ROOT}/warehouse/ds={{{{ ds }}}}/customers.parquet",
    "data_query": DataQuery(sql=QUERY, conn_id="stack_warehouse", validate_in_database=True),
})
dag = build_retrain_dag(config, dag_id="nightly_retrain_churn_warehouse")
