"""Building scikit-learn models from the estimator spec in a model config."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_mlops.core.errors import ConfigError
from airflow_mlops.core.imports import MODEL_PREFIXES, import_path

if TYPE_CHECKING:
    import pandas as pd
    from sklearn.pipeline import Pipeline


def _import(path: str) -> type:
    """The scikit-learn estimator class at ``path``; nothing else may be called from a config."""
    from sklearn.base import BaseEstimator

    found = import_path(path, "estimator", MODEL_PREFIXES)
    if found is None:
        raise ConfigError(f"estimator '{path}' cannot be imported")
    if not (isinstance(found, type) and issubclass(found, BaseEstimator)):
        raise ConfigError(f"estimator '{path}' is not a scikit-learn estimator class")
    return found


def build_estimator(spec: dict[str, Any]) -> Any:
    """An unfitted estimator, or a Pipeline when the spec lists ``steps``."""
    from sklearn.pipeline import Pipeline

    if spec.get("steps"):
        steps = [build_estimator(step) for step in spec["steps"]]
        return Pipeline([(f"{type(s).__name__.lower()}_{i}", s) for i, s in enumerate(steps)])
    if "class" not in spec:
        raise ConfigError(f"estimator spec needs 'class' or 'steps'; got keys {sorted(spec)}")
    try:
        return _import(spec["class"])(**spec.get("params", {}))
    except TypeError as exc:
        raise ConfigError(f"estimator '{spec['class']}': bad params: {exc}") from None


def build_model(spec: dict[str, Any], features: pd.DataFrame) -> Pipeline:
    """The estimator behind a step that one-hot encodes the non-numeric feature columns."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    categorical = [c for c in features.columns if not _is_numeric(features[c])]
    prepare = ColumnTransformer(
        [("categorical", OneHotEncoder(handle_unknown="ignore"), categorical)],
        remainder="passthrough",
        sparse_threshold=0.0,
    )
    return Pipeline([("prepare", prepare), ("estimator", build_estimator(spec))])


def _is_numeric(column: pd.Series) -> bool:
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    return is_numeric_dtype(column) and not is_bool_dtype(column)
