"""A twin of nightly_retrain_churn for the promotion race test (tests/stack/test_races.py).

Same model, same config, another DAG id: ``max_active_runs=1`` does not serialise it with the
real one. Its promotions wait in pool ``stack_gate_twin``, which the test opens.
"""

from _churn import churn_config

from airflow_mlops.templates.retrain import build_retrain_dag

TWIN_POOL = "stack_gate_twin"

dag = build_retrain_dag(churn_config(pool=TWIN_POOL), dag_id="nightly_retrain_churn_twin")
