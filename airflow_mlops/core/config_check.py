"""Checks of a model config beyond its schema: what would otherwise fail only at run time."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from airflow_mlops.core.config import ModelConfig, field_lines
from airflow_mlops.core.errors import MlopsError

if TYPE_CHECKING:
    from airflow_mlops.core.validation import Suite

ESTIMATOR = ("estimator",)


def _fit_problems(config: ModelConfig, suite: Suite) -> Iterator[tuple[tuple, str]]:
    """Build the pipeline training builds and fit it on a synthetic frame shaped by the suite;
    a column group that fails is named on its own."""
    from sklearn.base import clone

    from airflow_mlops.core.estimators import EstimatorError, build_model
    from airflow_mlops.core.io import short
    from airflow_mlops.core.serialization import trusted_types_for
    from airflow_mlops.core.synthetic import ROWS, suite_columns, synthetic_frame

    features = config.features or [c for c in suite_columns(suite) if c != config.target]
    frame, target = synthetic_frame(suite, features, config.target, config.task, seed=config.seed)
    try:
        model = build_model(config.estimator.model_dump(by_alias=True, exclude_none=True), frame)
    except EstimatorError as exc:
        yield exc.location, exc.problem
        return
    trains = f"does not train on {ROWS} synthetic rows shaped by the suite"
    if config.estimator.preprocess:
        for name, transformer, columns in model.named_steps["prepare"].transformers:
            try:
                clone(transformer).fit_transform(frame[columns], target)
            except (ValueError, TypeError) as exc:
                yield (*ESTIMATOR, "preprocess", name, "steps"), f"{trains}: {short(exc)}"
                return
    try:
        model.fit(frame, target)
        model.predict(frame)
    except (ValueError, TypeError) as exc:
        yield ESTIMATOR, f"{trains}: {short(exc)}"
        return
    try:
        trusted_types_for(model)
    except MlopsError as exc:
        yield ESTIMATOR, str(exc)


def _problems(config: ModelConfig) -> Iterator[tuple[tuple, str]]:
    from airflow_mlops.core.validation import build_expectations, load_suite

    try:
        suite = load_suite(config.suite)
        build_expectations(suite)
    except MlopsError as exc:
        yield ("suite",), str(exc)
    else:
        yield from _fit_problems(config, suite)
    for metric in config.promotion.custom():
        try:
            metric.load()
        except MlopsError as exc:
            yield ("promotion", "custom_metrics", metric.name, "function"), str(exc)


def check_config(path: Path, config: ModelConfig) -> list[str]:
    """Problems of a loaded config, each naming its field and line: the suite loads and
    builds, the pipeline training builds fits a synthetic frame shaped by the suite and saves
    with the reviewed types only, custom metrics import."""
    problems = list(_problems(config))
    lines = field_lines(path, [location for location, _ in problems])
    return [
        f"field '{'.'.join(map(str, location))}'{f' (line {line})' if line else ''}: {message}"
        for (location, message), line in zip(problems, lines, strict=True)
    ]
