"""Triggers: the async waiting behind deferrable sensors, run by the Airflow triggerer."""
