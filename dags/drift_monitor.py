"""Drift monitoring of the model described in nightly_retrain.yaml (its ``drift`` section).

Copy this file next to nightly_retrain.py and its YAML; edit the YAML, not this file. When
drift is confirmed it requests a retrain, which nightly_retrain runs.
"""

from pathlib import Path

from airflow_mlops.core.config import load_model_config
from airflow_mlops.templates.drift import build_drift_dag

dag = build_drift_dag(load_model_config(Path(__file__).with_name("nightly_retrain.yaml")))
