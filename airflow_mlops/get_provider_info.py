"""Provider metadata read by Airflow's ProvidersManager."""

from __future__ import annotations

from airflow_mlops import __version__


def get_provider_info() -> dict:
    """Describe the airflow-mlops provider: package, hooks, links, config, connection form."""
    return {
        "package-name": "airflow-mlops",
        "name": "MLOps",
        "description": "Continuous retraining: validation, training, champion/challenger, drift.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "MLflow",
                "external-doc-url": "https://mlflow.org/docs/latest/",
                "tags": ["software"],
            },
            {
                "integration-name": "Evidently",
                "external-doc-url": "https://docs.evidentlyai.com/",
                "tags": ["software"],
            },
        ],
        "hooks": [
            {"integration-name": "MLflow", "python-modules": ["airflow_mlops.hooks.mlflow"]},
        ],
        "operators": [
            {
                "integration-name": "MLflow",
                "python-modules": [
                    "airflow_mlops.operators.validation",
                    "airflow_mlops.operators.training",
                    "airflow_mlops.operators.evaluation",
                    "airflow_mlops.operators.registry",
                    "airflow_mlops.operators.quality",
                    "airflow_mlops.operators.deployment",
                ],
            },
            {"integration-name": "Evidently", "python-modules": ["airflow_mlops.operators.drift"]},
        ],
        "sensors": [
            {
                "integration-name": "MLflow",
                "python-modules": ["airflow_mlops.sensors.data", "airflow_mlops.sensors.alias"],
            },
        ],
        "extra-links": [
            "airflow_mlops.operators.links.ReportLink",
            "airflow_mlops.operators.links.MlflowRunLink",
            "airflow_mlops.operators.links.ModelVersionLink",
            "airflow_mlops.operators.links.DecisionRecordLink",
            "airflow_mlops.operators.links.ComparisonChartLink",
            "airflow_mlops.operators.links.ChallengerVersionLink",
            "airflow_mlops.operators.links.ChampionVersionLink",
            "airflow_mlops.operators.links.LedgerEntryLink",
            "airflow_mlops.operators.links.ModelCardLink",
            "airflow_mlops.operators.links.OutputLink",
        ],
        "config": {
            "mlops": {
                "description": "Options of the airflow-mlops provider.",
                "options": {
                    "results_base_uri": {
                        "description": "Folder (local path or object-storage URI) under which "
                        "checks store their reports when no MLflow run or results_uri is "
                        "given. Defaults to $AIRFLOW_HOME/mlops-results; use shared storage "
                        "(e.g. s3://conn_id@bucket/mlops) when tasks run on several workers.",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "s3://aws_default@my-bucket/mlops-results",
                        "default": None,
                    }
                },
            }
        },
        "triggers": [
            {
                "integration-name": "MLflow",
                "python-modules": ["airflow_mlops.triggers.data", "airflow_mlops.triggers.alias"],
            },
        ],
        "connection-types": [
            {
                "connection-type": "mlflow",
                "hook-class-name": "airflow_mlops.hooks.mlflow.MlflowHook",
                "hook-name": "MLflow",
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "port"],
                    "relabeling": {
                        "host": "Tracking URI",
                        "login": "Username",
                        "password": "Password or token",
                    },
                    "placeholders": {
                        "host": "http://mlflow.internal:5000 or sqlite:////path/mlflow.db",
                    },
                },
                "conn-fields": {
                    "registry_uri": {
                        "label": "Registry URI",
                        "schema": {"type": ["string", "null"]},
                        "description": "Defaults to the tracking URI.",
                    },
                    "artifact_location": {
                        "label": "Artifact location",
                        "schema": {"type": ["string", "null"]},
                        "description": "Where new experiments store artifacts.",
                    },
                    "ui_base_url": {
                        "label": "UI base URL",
                        "schema": {"type": ["string", "null"]},
                        "description": "Where a browser opens the MLflow UI, when not at the "
                        "tracking URI; links from Airflow's UI lead there.",
                    },
                },
            }
        ],
    }
