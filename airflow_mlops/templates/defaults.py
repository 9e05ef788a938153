"""What every DAG built from a model config shares: owner, retries, timeouts, failure alerts."""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow_mlops.core.config import ModelConfig
from airflow_mlops.templates.alerts import notifiers


def default_args(config: ModelConfig) -> dict[str, Any]:
    """Task defaults from the config's ``owner``, ``retries``, ``timeouts`` and ``alerts``."""
    retries, timeouts = config.retries, config.timeouts
    args: dict[str, Any] = {
        "owner": config.owner,
        "retries": retries.count,
        "retry_delay": dt.timedelta(seconds=retries.delay_seconds),
        "retry_exponential_backoff": retries.backoff,
    }
    if retries.max_delay_minutes is not None:
        args["max_retry_delay"] = dt.timedelta(minutes=retries.max_delay_minutes)
    if timeouts.task_minutes is not None:
        args["execution_timeout"] = dt.timedelta(minutes=timeouts.task_minutes)
    if config.alerts.on_failure:
        args["on_failure_callback"] = notifiers(config.alerts.on_failure)
    return args


def dag_arguments(config: ModelConfig, *, kind: str) -> dict[str, Any]:
    """The DAG arguments both templates share: one run at a time, no catch-up on deploy
    (backfill missed nights explicitly, README "Backfilling"), the config's defaults."""
    run_hours = config.timeouts.run_hours
    return {
        "start_date": dt.datetime.combine(config.start_date, dt.time(), tzinfo=dt.timezone.utc),
        "catchup": False,
        "max_active_runs": 1,
        "dagrun_timeout": None if run_hours is None else dt.timedelta(hours=run_hours),
        "default_args": default_args(config),
        "tags": ["airflow-mlops", kind, config.name],
    }


def data_wait_seconds(config: ModelConfig) -> float:
    """How long a sensor waits for the night's data."""
    return config.timeouts.data_wait_hours * 3600
