"""Celery worker settings that import the heavy libraries once, before task processes fork.

Airflow 3 runs every task in a process forked from its Celery worker. Libraries the worker
imported at start are shared by every task process instead of imported again by each task
(seconds apiece for MLflow, scikit-learn and Great Expectations). Point Airflow at it:

    AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS=airflow_mlops.worker_preload.CELERY_CONFIG

They are Airflow's own Celery settings plus Celery's ``imports``: the worker's Celery app
takes the option's dict as its whole configuration. Only the worker imports the modules; the
scheduler builds the same Celery app without importing anything listed here. The template
modules a DAG file imports are preloaded too (each task process parses its DAG file), so a new
version of the package, like a new library, takes a worker restart.
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
    # Imported by MLflow when a run starts (its git source tags), by the evaluation's chart
    # and by the model card and its HTML: 0.46 s, 1.9 s, 0.3 s and 0.1-0.4 s in the task
    # processes otherwise.
    "git",
    "matplotlib.figure",
    "skops.card",
    "markdown_it",
    # What every task process imports parsing the template's DAG file (0.3 s per task).
    "airflow_mlops.templates.factory",
    "airflow_mlops.templates.retrain",
)

CELERY_CONFIG = {**DEFAULT_CELERY_CONFIG, "imports": PRELOADED_MODULES}
