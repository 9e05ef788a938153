"""Checks of a model config beyond its schema: what would otherwise fail only at run time."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

from airflow_mlops.core.config import ModelConfig, field_lines
from airflow_mlops.core.errors import MlopsError

if TYPE_CHECKING:
    from airflow_mlops.core.validation import Suite

ESTIMATOR = ("estimator",)


def _fit_problems(config: ModelConfig, suite: Suite,
                  single_threaded: Callable[[], AbstractContextManager]
                  ) -> Iterator[tuple[tuple, str]]:
    """Build the pipeline training builds and fit it on a synthetic frame shaped by the suite,
    inside ``single_threaded()``; a column group that fails is named on its own."""
    from airflow_mlops.core.estimators import EstimatorError, build_model
    from airflow_mlops.core.serialization import trusted_types_for
    from airflow_mlops.core.synthetic import suite_columns, synthetic_frame

    features = config.features or [c for c in suite_columns(suite) if c != config.target]
    frame, target = synthetic_frame(suite, features, config.target, config.task, seed=config.seed)
    try:
        model = build_model(config.estimator.model_dump(by_alias=True, exclude_none=True), frame)
    except EstimatorError as exc:
        yield exc.location, exc.problem
        return
    with single_threaded():
        problem = _train_problem(config, model, frame, target)
    if problem:
        yield problem
        return
    try:
        trusted_types_for(model)
    except MlopsError as exc:
        yield ESTIMATOR, str(exc)


def _train_problem(config: ModelConfig, model, frame, target) -> tuple[tuple, str] | None:
    """Why ``model`` does not fit and predict the synthetic frame, if it does not."""
    from sklearn.base import clone

    from airflow_mlops.core.io import short
    from airflow_mlops.core.synthetic import ROWS

    trains = f"does not train on {ROWS} synthetic rows shaped by the suite"
    if config.estimator.preprocess:
        for name, transformer, columns in model.named_steps["prepare"].transformers:
            try:
                clone(transformer).fit_transform(frame[columns], target)
            except (ValueError, TypeError) as exc:
                return (*ESTIMATOR, "preprocess", name, "steps"), f"{trains}: {short(exc)}"
    try:
        model.fit(frame, target)
        model.predict(frame)
    except (ValueError, TypeError) as exc:
        return ESTIMATOR, f"{trains}: {short(exc)}"
    return None


def _suite_problems(path: Path) -> tuple[Suite | None, str | None]:
    """The suite at ``path`` if it loads and builds, else why not."""
    from airflow_mlops.core.validation import build_expectations, load_suite

    try:
        suite = load_suite(path)
        build_expectations(suite)
    except MlopsError as exc:
        return None, str(exc)
    return suite, None


def _fit_key(config: ModelConfig) -> str:
    """What the synthetic fit depends on: configs that agree on it get the same problems."""
    return json.dumps([config.estimator.model_dump(mode="json", by_alias=True, exclude_none=True),
                       str(config.suite), config.features, config.target, config.task,
                       config.seed], sort_keys=True)


class ConfigChecker:
    """Checks configs one after another, doing once what they share: each suite file is read
    and built once, and each pipeline is fitted once per suite, features, target, task and
    seed. One checker is meant for one pass over the configs (files are not re-read).

    Fits run with one BLAS thread: on a few dozen rows, more threads only wait for each
    other (on a busy 2-core machine they tripled the time of a fit)."""

    def __init__(self) -> None:
        self._suites: dict[Path, tuple[Suite | None, str | None]] = {}
        self._fits: dict[str, list[tuple[tuple, str]]] = {}
        self._threads = None

    def _single_threaded(self) -> AbstractContextManager:
        # Made at the first fit, once the estimators' libraries are loaded: finding the
        # thread pools takes tens of milliseconds, setting their limit a tenth of one.
        from threadpoolctl import ThreadpoolController

        if self._threads is None:
            self._threads = ThreadpoolController()
        return self._threads.limit(limits=1)

    def _problems(self, config: ModelConfig) -> Iterator[tuple[tuple, str]]:
        if config.suite not in self._suites:
            self._suites[config.suite] = _suite_problems(config.suite)
        suite, error = self._suites[config.suite]
        if error:
            yield ("suite",), error
        else:
            key = _fit_key(config)
            if key not in self._fits:
                self._fits[key] = list(_fit_problems(config, suite, self._single_threaded))
            yield from self._fits[key]
        for metric in config.promotion.custom():
            try:
                metric.load()
            except MlopsError as exc:
                yield ("promotion", "custom_metrics", metric.name, "function"), str(exc)

    def check(self, path: Path, config: ModelConfig) -> list[str]:
        """Problems of a loaded config, each naming its field and line: the suite loads and
        builds, the pipeline training builds fits a synthetic frame shaped by the suite and
        saves with the reviewed types only, custom metrics import."""
        problems = list(self._problems(config))
        if not problems:  # the file is read again only to give the problems' lines
            return []
        lines = field_lines(path, [location for location, _ in problems])
        return [
            f"field '{'.'.join(map(str, location))}'{f' (line {line})' if line else ''}: "
            f"{message}"
            for (location, message), line in zip(problems, lines, strict=True)
        ]


def check_config(path: Path, config: ModelConfig) -> list[str]:
    """:meth:`ConfigChecker.check` of one config."""
    return ConfigChecker().check(path, config)
