"""Celery worker settings that import the heavy libraries once, before task processes fork.

Airflow 3 runs every task in a process forked from its Celery worker. Libraries the worker
imported at start are shared by every task process instead of imported again by each task
(seconds apiece for MLflow, scikit-learn and Great Expectations). Point Airflow at it:

    AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS=airflow_mlops.worker_preload.CELERY_CONFIG

Airflow merges these settings over its own Celery defaults. Only the worker imports them;
the scheduler builds the same Celery app without importing anything listed here.
"""

from __future__ import annotations

# What the nightly retrain template's tasks import; drift monitors add ``evidently``.
PRELOADED_MODULES = (
    "pandas",
    "pyarrow.parquet",
    "sklearn.compose",
    "sklearn.ensemble",
    "sklearn.linear_model",
    "sklearn.model_selection",
    "sklearn.pipeline",
    "sklearn.preprocessing",
    "skops.io",
    "mlflow",
    "mlflow.models",
    "mlflow.pyfunc",
    "mlflow.sklearn",
    "great_expectations",
)

CELERY_CONFIG = {"imports": PRELOADED_MODULES}
