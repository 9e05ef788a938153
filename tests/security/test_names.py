"""Names that reach MLflow (model names) are checked against a strict pattern."""

from __future__ import annotations

import re

import pytest

from airflow_mlops.core.config import NAME_PATTERN


@pytest.mark.parametrize("name", [
    "../etc", "a/b", "a\\\\b", "", "-leading", "{{ 7 * 7 }}", "x; rm -rf /", "name with space",
    "é", "a" * 129, "churn\\n",
])
def test_hostile_names_are_rejected(name):
    assert re.fullmatch(NAME_PATTERN, name) is None


@pytest.mark.parametrize("name", ["churn", "Churn_v2", "team.model-1", "a" * 128])
def test_ordinary_names_pass(name):
    assert re.fullmatch(NAME_PATTERN, name)


def test_model_config_rejects_a_traversal_name(tmp_path):
    from pydantic import ValidationError

    from airflow_mlops.core.config import ModelConfig

    with pytest.raises(ValidationError, match="name"):
        ModelConfig.model_validate({
            "name": "../../etc/passwd", "start_date": "2026-01-01", "data_uri": "x.csv",
            "target": "y", "suite": str(tmp_path / "s.json"),
            "estimator": {"class": "sklearn.linear_model.LogisticRegression"},
        })
