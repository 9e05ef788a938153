"""Every task field both templates fill with config text is rendered by the config rules."""

from __future__ import annotations

from airflow_mlops.core.config import TEMPLATED_FIELDS, ModelConfig, templated_texts
from airflow_mlops.templates.drift import build_drift_dag
from airflow_mlops.templates.retrain import build_retrain_dag

MARK = "config-text-"
CONFIG = {
    "name": "churn",
    "start_date": "2026-01-01",
    "data_uri": f"/lake/{MARK}data_uri",
    "data_query": {"sql": f"SELECT '{MARK}sql'", "conn_id": "warehouse"},
    "target": "churned",
    "suite": f"/suites/{MARK}suite.json",
    "estimator": {"class": "sklearn.linear_model.LogisticRegression"},
    "drift": {"data_uri": f"/lake/{MARK}drift", "reference_uri": f"/lake/{MARK}reference",
              "quality": {"data_uri": f"/lake/{MARK}labels"}},
    "deployment": {
        "scoring": {"output_uri": f"/out/{MARK}scores", "key_columns": ["id"],
                    "data_uri": f"/lake/{MARK}scoring"},
        "export_uri": f"/serving/{MARK}export",
        "reload": {"http_conn_id": "serving", "endpoint": f"/{MARK}reload"},
    },
}


def test_the_config_names_each_templated_field():
    found = {location for location, _ in templated_texts(CONFIG)}

    assert found == set(TEMPLATED_FIELDS)


def test_every_task_field_holding_config_text_is_a_config_template_field():
    config = ModelConfig.model_validate(CONFIG)
    holding = []
    for dag in (build_retrain_dag(config), build_drift_dag(config)):
        for task in dag.tasks:
            for field in task.template_fields:
                if MARK in str(getattr(task, field)):
                    holding.append((task.task_id, field))
                    assert field in getattr(task, "config_template_fields", ()), (
                        f"{dag.dag_id}.{task.task_id}.{field} holds config text")

    assert len(holding) >= len(TEMPLATED_FIELDS)  # the check above saw every field
