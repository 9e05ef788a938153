"""The churn model config of dags/models, for the stack tests' DAGs (not a DAG file)."""

from __future__ import annotations

from pathlib import Path

from airflow_mlops.core.config import ModelConfig, RetryPolicy, load_model_config

REPO = Path(__file__).resolve().parents[3]


def churn_config(*, pool: str | None = None, retries: RetryPolicy | None = None) -> ModelConfig:
    """dags/models/churn.yaml, with promotions in ``pool`` and other ``retries`` if given."""
    config = load_model_config(REPO / "dags" / "models" / "churn.yaml")
    update: dict = {"promotion": config.promotion.model_copy(update={"pool": pool})}
    if retries is not None:
        update["retries"] = retries
    return config.model_copy(update=update)
