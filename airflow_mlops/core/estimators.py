"""Building scikit-learn models from the estimator spec in a model config.

Every field of a spec is reached through ``location`` (e.g. ``("estimator", "steps", 1)``), so
an error names the field to fix.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_mlops.core.errors import ConfigError
from airflow_mlops.core.imports import MODEL_PREFIXES, import_path

if TYPE_CHECKING:
    import pandas as pd
    from sklearn.pipeline import Pipeline

ROOT = ("estimator",)
SPEC_KEYS = ("class", "steps")  # a mapping in params with one of these keys is an estimator


class EstimatorError(ConfigError):
    """An estimator spec that does not build, with the field it is about."""

    def __init__(self, location: tuple, problem: str) -> None:
        self.location = location
        self.problem = problem
        super().__init__(f"field '{'.'.join(map(str, location))}': {problem}")


def _import(path: str, location: tuple) -> type:
    """The scikit-learn estimator class at ``path``; nothing else may be called from a config."""
    from sklearn.base import BaseEstimator

    try:
        found = import_path(path, "estimator", MODEL_PREFIXES)
    except ConfigError as exc:
        raise EstimatorError(location, str(exc)) from None
    if found is None:
        raise EstimatorError(location, f"estimator '{path}' cannot be imported")
    if not (isinstance(found, type) and issubclass(found, BaseEstimator)):
        raise EstimatorError(location, f"estimator '{path}' is not a scikit-learn estimator class")
    return found


def is_spec(value: Any) -> bool:
    """Whether a value in params is a nested estimator spec (a mapping with class or steps)."""
    return isinstance(value, dict) and any(key in value for key in SPEC_KEYS)


def _param(value: Any, location: tuple) -> Any:
    """A param value with every nested estimator spec (also inside lists) built."""
    if is_spec(value):
        return build_estimator(value, location)
    if isinstance(value, dict) and "params" in value:
        raise EstimatorError(location, "an estimator spec needs 'class' (or 'steps'); "
                                       f"got keys {sorted(value)}")
    if isinstance(value, list):
        return [_param(item, (*location, index)) for index, item in enumerate(value)]
    return value


def _checked(estimator: Any, path: str, location: tuple) -> Any:
    """``estimator`` after scikit-learn's own check of its params, which names the param."""
    from sklearn.utils._param_validation import InvalidParameterError

    validate = getattr(estimator, "_validate_params", None)
    try:
        if validate is not None:
            validate()
    except InvalidParameterError as exc:
        name = next((p for p in estimator.get_params(deep=False) if f"'{p}' parameter" in str(exc)),
                    None)
        raise EstimatorError((*location, "params", name) if name else (*location, "params"),
                             f"estimator '{path}': {exc}") from None
    return estimator


def build_estimator(spec: dict[str, Any], location: tuple = ROOT) -> Any:
    """An unfitted estimator, or a Pipeline when the spec lists ``steps``.

    Estimator specs nested in params (a mapping with ``class``, or a list of such) are built
    the same way, so scikit-learn never sees a raw mapping where it expects an estimator.
    """
    if spec.get("steps"):
        steps = [build_estimator(step, (*location, "steps", index))
                 for index, step in enumerate(spec["steps"])]
        return _pipeline(steps)
    if "class" not in spec:
        raise EstimatorError(location, f"estimator spec needs 'class' or 'steps'; got keys "
                                       f"{sorted(spec)}")
    path = spec["class"]
    cls = _import(path, (*location, "class"))
    params = {name: _param(value, (*location, "params", name))
              for name, value in spec.get("params", {}).items()}
    try:
        estimator = cls(**params)
    except TypeError as exc:
        raise EstimatorError((*location, "params"), f"estimator '{path}': bad params: {exc}"
                             ) from None
    return _checked(estimator, path, location)


def _pipeline(steps: list) -> Pipeline:
    from sklearn.pipeline import Pipeline

    return Pipeline([(f"{type(s).__name__.lower()}_{i}", s) for i, s in enumerate(steps)])


def _column_groups(groups: dict[str, Any], columns: list[str]) -> list[tuple]:
    """The ColumnTransformer entries of ``estimator.preprocess``: name, steps, columns."""
    entries = []
    for name, group in groups.items():
        location = (*ROOT, "preprocess", name)
        missing = [c for c in group["columns"] if c not in columns]
        if missing:
            raise EstimatorError((*location, "columns"), f"{missing} not among the features "
                                                         f"{columns}")
        steps = [build_estimator(step, (*location, "steps", index))
                 for index, step in enumerate(group["steps"])]
        entries.append((name, steps[0] if len(steps) == 1 else _pipeline(steps),
                        list(group["columns"])))
    return entries


def build_model(spec: dict[str, Any], features: pd.DataFrame) -> Pipeline:
    """The configured estimator behind a ``prepare`` step for the feature columns.

    With ``preprocess``, ``prepare`` runs each column group's steps on its columns (the other
    columns pass through unchanged). Otherwise, unless ``encode_categoricals`` is false, it
    one-hot encodes the non-numeric columns (booleans included) and passes the rest through.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    estimator = build_estimator({k: spec[k] for k in ("class", "params", "steps") if k in spec})
    if spec.get("preprocess"):
        entries = _column_groups(spec["preprocess"], list(features.columns))
    elif spec.get("encode_categoricals", True):
        categorical = [c for c in features.columns if not _is_numeric(features[c])]
        entries = [("categorical", OneHotEncoder(handle_unknown="ignore"), categorical)]
    else:
        return Pipeline([("estimator", estimator)])
    prepare = ColumnTransformer(entries, remainder="passthrough", sparse_threshold=0.0)
    return Pipeline([("prepare", prepare), ("estimator", estimator)])


def _is_numeric(column: pd.Series) -> bool:
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    return is_numeric_dtype(column) and not is_bool_dtype(column)
