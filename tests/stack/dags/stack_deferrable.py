"""nightly_retrain_churn with its data sensor deferred to the triggerer, polling every 2 s
(tests/stack/test_triggerer_restart.py)."""

from _churn import churn_config

from airflow_mlops.templates.retrain import build_retrain_dag

dag = build_retrain_dag(churn_config(), dag_id="stack_retrain_churn_deferrable")
sensor = dag.get_task("wait_for_data")
sensor.deferrable = True
sensor.poll_interval = 2.0
