"""The load benchmark's models (bench/stack_load.py): one nightly DAG per config it writes
to ``$STACK_DIR/load-models``; none while that folder does not exist."""

import os
from pathlib import Path

from airflow_mlops.templates.factory import build_dags
from airflow_mlops.templates.retrain import DAG_ID_PREFIX, build_retrain_dag

folder = Path(os.environ.get("STACK_DIR", ".")) / "load-models"
dags = build_dags(build_retrain_dag, folder, dag_id_prefix=DAG_ID_PREFIX)
