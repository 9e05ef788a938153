"""Nightly retrain-and-compare for the model described in nightly_retrain.yaml.

Copy this file and its YAML into your DAGs folder; edit the YAML, not this file.
"""

from pathlib import Path

from airflow_mlops.core.config import load_model_config
from airflow_mlops.templates.retrain import build_retrain_dag

dag = build_retrain_dag(load_model_config(Path(__file__).with_suffix(".yaml")))
