"""Drift monitoring: one DAG per model config in ``models/`` (each config's ``drift`` section).

Copy this file next to nightly_retrain.py: both read the same configs. When drift is confirmed
a monitor requests a retrain, which the model's nightly_retrain DAG runs.
"""

from airflow_mlops.templates.drift import DAG_ID_PREFIX, build_drift_dag
from airflow_mlops.templates.factory import build_dags, configs_folder

dags = build_dags(build_drift_dag, configs_folder(__file__), dag_id_prefix=DAG_ID_PREFIX)
