"""Airflow-free logic: configs, data IO, validation, training, evaluation, registry."""
