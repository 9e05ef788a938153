"""Checks of a model config beyond its schema: what would otherwise fail only at run time."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from airflow_mlops.core.config import EstimatorSpec, ModelConfig, field_lines
from airflow_mlops.core.errors import MlopsError


def _estimator_problems(spec: EstimatorSpec, location: tuple) -> Iterator[tuple[tuple, str]]:
    from airflow_mlops.core.estimators import build_estimator

    if spec.steps is not None:
        for index, step in enumerate(spec.steps):
            yield from _estimator_problems(step, (*location, "steps", index))
        return
    try:
        build_estimator(spec.model_dump(by_alias=True, exclude_none=True))
    except MlopsError as exc:
        yield (*location, "class"), str(exc)


def _problems(config: ModelConfig) -> Iterator[tuple[tuple, str]]:
    from airflow_mlops.core.validation import build_expectations, load_suite

    try:
        build_expectations(load_suite(config.suite))
    except MlopsError as exc:
        yield ("suite",), str(exc)
    yield from _estimator_problems(config.estimator, ("estimator",))
    for metric in config.promotion.custom():
        try:
            metric.load()
        except MlopsError as exc:
            yield ("promotion", "custom_metrics", metric.name, "function"), str(exc)


def check_config(path: Path, config: ModelConfig) -> list[str]:
    """Problems of a loaded config, each naming its field and line: the suite loads and
    builds, estimator classes import and take their params, custom metrics import."""
    problems = list(_problems(config))
    lines = field_lines(path, [location for location, _ in problems])
    return [
        f"field '{'.'.join(map(str, location))}'{f' (line {line})' if line else ''}: {message}"
        for (location, message), line in zip(problems, lines, strict=True)
    ]
