"""Nightly retrain-and-compare: one DAG per model config in ``models/`` next to this file.

Copy this file and a ``models/`` folder of configs into your DAGs folder; add a model by adding
its YAML (check it with ``airflow-mlops config check``), not by editing this file.
``$AIRFLOW_MLOPS_CONFIGS`` points at another configs folder.
"""

from airflow_mlops.templates.factory import build_dags, configs_folder
from airflow_mlops.templates.retrain import DAG_ID_PREFIX, build_retrain_dag

dags = build_dags(build_retrain_dag, configs_folder(__file__), dag_id_prefix=DAG_ID_PREFIX)
