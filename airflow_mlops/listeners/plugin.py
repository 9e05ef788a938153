"""The Airflow plugin (entry point `airflow.plugins`) that registers the provider's listeners."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from airflow_mlops.listeners import night_note


class NightNotePlugin(AirflowPlugin):
    """Writes each retrain night's outcome into its DAG run's note."""

    name = "airflow_mlops_night_note"
    listeners = [night_note]
