"""Celery worker settings that import the heavy libraries once, before task processes fork.

Airflow 3 runs every task in a process forked from its Celery worker. Libraries the worker
imported at start are shared by every task process instead of imported again by each task
(seconds apiece for MLflow, scikit-learn and Great Expectations). Point Airflow at it:

    AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS=airflow_mlops.worker_preload.CELERY_CONFIG

They are Airflow's own Celery settings plus Celery's ``imports``: the worker's Celery app
takes the option's dict as its whole configuration. Only the worker imports the modules; the
scheduler builds the same Celery app without importing anything listed here.
"""

from __future__ import annotations

from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG

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

CELERY_CONFIG = {**DEFAULT_CELERY_CONFIG, "imports": PRELOADED_MODULES}
