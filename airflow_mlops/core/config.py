"""Model configs: the typed YAML a data scientist writes for one model."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from airflow_mlops.core.errors import ConfigError

NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_.-]{0,127}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EstimatorSpec(_Strict):
    """A scikit-learn estimator by import path, or a pipeline of such steps."""

    class_path: str | None = Field(default=None, alias="class")
    params: dict[str, Any] = Field(default_factory=dict)
    steps: list[EstimatorSpec] | None = None

    @field_validator("steps")
    @classmethod
    def _steps_not_empty(cls, steps: list[EstimatorSpec] | None) -> list[EstimatorSpec] | None:
        if steps is not None and not steps:
            raise ValueError("a pipeline needs at least one step")
        return steps

    @model_validator(mode="after")
    def _one_of_class_or_steps(self) -> EstimatorSpec:
        if (self.class_path is None) == (self.steps is None):
            raise ValueError("give exactly one of 'class' (an estimator) or 'steps' (a pipeline)")
        return self


class PromotionPolicy(_Strict):
    """When a challenger may replace the champion (MLflow MetricThreshold semantics)."""

    primary_metric: str = "roc_auc"
    greater_is_better: bool = True
    threshold: float | None = None
    min_absolute_change: float = 0.0
    min_relative_change: float = 0.0


class ModelConfig(_Strict):
    """Everything the nightly retrain template needs to know about one model."""

    name: str = Field(pattern=NAME_PATTERN)
    owner: str = "airflow"
    schedule: str | None = "@daily"
    start_date: dt.date
    task: Literal["classification", "regression"] = "classification"
    data_uri: str
    target: str
    features: list[str] | None = None
    suite: Path
    estimator: EstimatorSpec
    holdout_fraction: float = Field(default=0.25, gt=0, lt=1)
    seed: int = 42
    promotion: PromotionPolicy = PromotionPolicy()
    experiment: str | None = None
    mlflow_conn_id: str = "mlflow_default"
    sensor_timeout_seconds: int = Field(default=6 * 3600, gt=0)

    @property
    def experiment_name(self) -> str:
        """The MLflow experiment runs of this model are logged to."""
        return self.experiment or f"airflow-mlops/{self.name}"


def _location(error: dict) -> str:
    return ".".join(str(part) for part in error["loc"]) or "<root>"


def load_model_config(path: str | os.PathLike) -> ModelConfig:
    """Read and validate a model config; relative paths resolve against its folder.

    Environment variables (``$VAR`` or ``${VAR}``) in ``data_uri`` are expanded.
    """
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: model config not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of fields, got {type(raw).__name__}")
    try:
        config = ModelConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"field '{_location(e)}': {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{path}: {problems}") from None
    return config.model_copy(
        update={
            "data_uri": os.path.expandvars(config.data_uri),
            "suite": (path.parent / config.suite).resolve(),
        }
    )
