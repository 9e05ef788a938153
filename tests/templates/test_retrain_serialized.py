"""The retrain DAG as the scheduler receives it: the serialized form of a few configs, pinned.

The builder sets tasks, dependencies and arguments with care for parse time (every DAG of a
thousand models is built at every parse); any change to what it builds shows up here first.
After a deliberate change to the template, rewrite the snapshot and review its diff::

    AIRFLOW_MLOPS_WRITE_SNAPSHOT=1 .venv/bin/python -m pytest \
        tests/templates/test_retrain_serialized.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml
from airflow.serialization.serialized_objects import DagSerialization

from airflow_mlops.core.config import ModelConfig
from airflow_mlops.templates.retrain import build_retrain_dag

REPO = Path(__file__).resolve().parents[2]
SNAPSHOT = Path(__file__).parent / "snapshots" / "retrain_dags.json"
NOTIFIER = {"notifier": "some.provider.notifications.ChatNotifier", "params": {"to": "#ml"}}
CHURN = {**yaml.safe_load((REPO / "dags" / "models" / "churn.yaml").read_text()),
         "data_uri": "/lake/customers/ds={{ ds }}/customers.csv", "suite": "/suites/churn.json"}
CONFIGS = {
    "churn": CHURN,
    "asset_only_with_alerts": {
        **CHURN, "name": "asset_only", "schedule": None,
        "alerts": {"on_failure": [NOTIFIER], "on_promotion": [NOTIFIER]},
        "promotion": {**CHURN["promotion"], "pool": "mlops_promote_churn",
                      "approval": {"always": True, "timeout_hours": None}},
    },
    "query_in_database_with_deployment": {
        **CHURN, "name": "warehouse",
        "data_query": {"sql": "SELECT * FROM customers WHERE ds = '{{ ds }}'",
                       "conn_id": "warehouse", "validate_in_database": True},
        "deployment": {"smoke_sample_rows": 20,
                       "scoring": {"output_uri": "/lake/predictions/ds={{ ds }}/part.parquet",
                                   "key_columns": ["customer_id"]},
                       "export_uri": "/serving/churn",
                       "reload": {"http_conn_id": "serving", "endpoint": "/admin/reload"}},
    },
    "query_landed_first": {
        **CHURN, "name": "landed",
        "data_query": {"sql": "SELECT 1", "conn_id": "warehouse"},
        "deployment": {"export_uri": "/serving/landed"},
    },
}
VOLATILE = ("fileloc", "relative_fileloc", "_processor_dags_folder")


def built(config: dict):
    return build_retrain_dag(ModelConfig.model_validate(config))


def serialized(dag) -> dict:
    """The DAG's serialized dict, without where the file lives."""
    dag = DagSerialization.to_dict(dag)
    for key in VOLATILE:
        dag["dag"].pop(key, None)
    return json.loads(json.dumps(dag, sort_keys=True, default=str))


@pytest.fixture(scope="module")
def snapshot() -> dict:
    if os.environ.get("AIRFLOW_MLOPS_WRITE_SNAPSHOT"):
        SNAPSHOT.write_text(json.dumps({name: serialized(built(config)) for name, config
                                        in CONFIGS.items()}, indent=1, sort_keys=True) + "\n")
    return json.loads(SNAPSHOT.read_text())


@pytest.mark.parametrize("name", CONFIGS)
def test_the_serialized_dag_is_the_pinned_one(name, snapshot):
    assert serialized(built(CONFIGS[name])) == snapshot[name]


def test_one_more_edge_differs_from_the_snapshot(snapshot):
    dag = built(CONFIGS["churn"])
    dag.get_task("train") >> dag.get_task("summary")
    assert serialized(dag) != snapshot["churn"]  # negative control
