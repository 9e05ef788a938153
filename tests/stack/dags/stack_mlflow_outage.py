"""nightly_retrain_churn for the MLflow outage test (tests/stack/test_mlflow_outage.py).

Promotions wait in pool ``stack_gate_outage``, which the test opens; tasks retry every 10 s.
MLflow's client would otherwise retry a refused connection for minutes inside one try
(``MLFLOW_HTTP_REQUEST_MAX_RETRIES``, default 7 with exponential backoff): here it gives up
at once, so an outage fails the try and Airflow's retry takes over. The variable is set in
the processes that parse this file only (each task parses its own DAG file).
"""

import os

from _churn import churn_config

from airflow_mlops.core.config import RetryPolicy
from airflow_mlops.templates.retrain import build_retrain_dag

OUTAGE_POOL = "stack_gate_outage"
os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"

dag = build_retrain_dag(
    churn_config(pool=OUTAGE_POOL, retries=RetryPolicy(count=10, delay_seconds=10, backoff=0)),
    dag_id="stack_retrain_churn_mlflow_outage",
)
