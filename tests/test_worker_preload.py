"""The Celery worker preload: Airflow's Celery app imports the libraries in the worker only."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from airflow_mlops.worker_preload import PRELOADED_MODULES

HEAVY = ("mlflow", "sklearn", "great_expectations", "pandas")

# Builds the Celery app as `airflow celery worker` (and starts its loader) or as the
# scheduler's executor does, and reports the app's settings and the heavy modules imported.
PROBE = """
import json, sys
from airflow.configuration import conf

if sys.argv[1] == "worker":
    from airflow.providers.celery.executors.celery_executor import app
    app.loader.init_worker()
else:
    from airflow.providers.celery.executors.celery_executor_utils import create_celery_app
    app = create_celery_app(conf)
print(json.dumps({"imports": list(app.conf.imports), "broker": app.conf.broker_url,
                  "loaded": [m for m in sys.argv[2:] if m in sys.modules]}))
"""


def celery_app(role: str, tmp_path) -> dict:
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path),
           "AIRFLOW__CELERY__BROKER_URL": "redis://127.0.0.1:6379/9",
           "AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS":
               "airflow_mlops.worker_preload.CELERY_CONFIG"}
    result = subprocess.run([sys.executable, "-c", PROBE, role, *HEAVY], env=env,
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_worker_imports_the_listed_libraries_at_start(tmp_path):
    worker = celery_app("worker", tmp_path)

    assert worker["imports"] == list(PRELOADED_MODULES)
    assert worker["loaded"] == list(HEAVY)
    assert worker["broker"] == "redis://127.0.0.1:6379/9", "Airflow's own settings are kept"


def test_the_scheduler_building_the_same_app_imports_none_of_them(tmp_path):
    scheduler = celery_app("scheduler", tmp_path)

    assert scheduler["imports"] == list(PRELOADED_MODULES)
    assert scheduler["loaded"] == []

