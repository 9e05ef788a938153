"""Real nights for the plugin's tests: the nightly template run with dag.test() on SQLite.

Shared by the API tests and the browser test of this package: a promoted night, a compared
night and a blocked night of model ``churn``, in a fresh MLflow store, and the Airflow
connection ``mlflow_default`` pointing at it.
"""

from __future__ import annotations

import datetime as dt
import json
import runpy
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DAG_FILE = REPO / "dags" / "nightly_retrain.py"
NIGHTS = [dt.datetime(2026, 6, day, tzinfo=dt.timezone.utc) for day in (1, 2, 3)]


@dataclass(frozen=True)
class Nights:
    """The seeded nights: DAG runs (promoted, compared, blocked) and where things live."""

    dag_id: str
    promoted: str
    compared: str
    blocked: str
    tracking_uri: str
    results_base: Path


@pytest.fixture(scope="package")
def nights(airflow_db, _empty_mlflow_db, tmp_path_factory, customers, land) -> Nights:
    root = tmp_path_factory.mktemp("plugin-nights")
    shutil.copyfile(_empty_mlflow_db, root / "mlflow.db")
    tracking_uri = f"sqlite:///{root / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIRFLOW_MLOPS_DATA_ROOT", str(root / "data"))
        patch.setenv("AIRFLOW__MLOPS__RESULTS_BASE_URI", str(root / "results"))
        patch.setenv("AIRFLOW_CONN_MLFLOW_DEFAULT", json.dumps({
            "conn_type": "mlflow", "host": tracking_uri,
            "extra": {"artifact_location": str(root / "artifacts")},
        }))
        (dag,) = runpy.run_path(str(DAG_FILE))["dags"]
        size = len(customers) // 3
        corrupted = customers.iloc[2 * size:].copy()
        corrupted.loc[corrupted.index[:25], "tenure_months"] = -1
        frames = [customers.iloc[:size], customers.iloc[size:2 * size], corrupted]
        runs = []
        for frame, night in zip(frames, NIGHTS, strict=True):
            land(frame, root / "data" / "customers", night)
            runs.append(dag.test(logical_date=night).run_id)
        yield Nights(dag.dag_id, *runs, tracking_uri=tracking_uri,
                     results_base=root / "results")
