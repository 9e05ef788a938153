"""Tests for building scikit-learn models from estimator specs."""

from __future__ import annotations

import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from airflow_mlops.core.errors import ConfigError
from airflow_mlops.core.estimators import build_estimator, build_model

LOGISTIC = "sklearn.linear_model.LogisticRegression"


def test_single_estimator_gets_its_params():
    estimator = build_estimator({"class": LOGISTIC, "params": {"C": 0.25, "max_iter": 50}})

    assert isinstance(estimator, LogisticRegression)
    assert (estimator.C, estimator.max_iter) == (0.25, 50)


def test_steps_become_a_pipeline_in_order():
    spec = {"steps": [{"class": "sklearn.preprocessing.StandardScaler"}, {"class": LOGISTIC}]}

    pipeline = build_estimator(spec)

    assert isinstance(pipeline, Pipeline)
    assert [type(step) for _, step in pipeline.steps] == [StandardScaler, LogisticRegression]
    assert len({name for name, _ in pipeline.steps}) == 2


def test_unimportable_class_is_named():
    with pytest.raises(ConfigError, match="estimator 'sklearn.linear_model.NoSuchModel' cannot "
                                          "be imported"):
        build_estimator({"class": "sklearn.linear_model.NoSuchModel"})


@pytest.mark.parametrize("path", ["no_such_module.Model", "LogisticRegression", "os.system",
                                  "collections.OrderedDict", "sklearnx.Model"])
def test_classes_outside_the_allowed_modules_are_refused(path):
    with pytest.raises(ConfigError, match=f"estimator '{path}' is not in an allowed module"):
        build_estimator({"class": path, "params": {}})


@pytest.mark.parametrize("path", ["sklearn.base.clone", "sklearn.utils.Bunch"])
def test_only_scikit_learn_estimator_classes_are_called(path):
    with pytest.raises(ConfigError, match=f"estimator '{path}' is not a scikit-learn estimator"):
        build_estimator({"class": path, "params": {}})


def test_a_re_export_from_outside_the_allowed_modules_is_refused():
    with pytest.raises(ConfigError, match="'sklearn.base.inspect' is defined in no module"):
        build_estimator({"class": "sklearn.base.inspect"})


def test_bad_params_are_named():
    with pytest.raises(ConfigError, match=f"estimator '{LOGISTIC}': bad params"):
        build_estimator({"class": LOGISTIC, "params": {"not_a_param": 1}})


def test_spec_without_class_or_steps_is_refused():
    with pytest.raises(ConfigError, match=r"needs 'class' or 'steps'; got keys \['params'\]"):
        build_estimator({"params": {"C": 1.0}})


def test_model_one_hot_encodes_only_non_numeric_columns(customers):
    features = customers[["tenure_months", "monthly_charges", "contract", "region"]].head(300)
    model = build_model({"class": LOGISTIC, "params": {"max_iter": 500}}, features)

    model.fit(features, customers["churned"].head(300))

    encoded = model.named_steps["prepare"].transformers_[0]
    assert encoded[0] == "categorical"
    assert encoded[2] == ["contract", "region"]
    categories = features["contract"].nunique() + features["region"].nunique()
    assert model.named_steps["estimator"].coef_.shape[1] == categories + 2


def test_model_treats_booleans_as_categories(customers):
    features = customers[["tenure_months"]].head(50).assign(flag=lambda f: f.tenure_months > 10)

    model = build_model({"class": LOGISTIC}, features)

    assert model.named_steps["prepare"].transformers[0][2] == ["flag"]
