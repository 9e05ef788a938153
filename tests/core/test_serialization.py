"""Tests for the skops allow-list of model types."""

from __future__ import annotations

import re
from importlib.metadata import version

import pytest
import skops.io
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from skops.io.exceptions import UntrustedTypesFoundException

from airflow_mlops.core.errors import ConfigError, RegistryError
from airflow_mlops.core.estimators import build_model
from airflow_mlops.core.serialization import (
    TRUSTED_TYPES,
    check_loadable,
    runtime_requirements,
    trusted_types_for,
)

FEATURES = ["tenure_months", "monthly_charges", "contract", "region"]


class Doubler(TransformerMixin, BaseEstimator):
    """A transformer from outside scikit-learn, which the allow-list has never reviewed."""

    def fit(self, features, target=None):
        return self

    def transform(self, features):
        return features * 2


@pytest.fixture(scope="module")
def data(customers):
    sample = customers.head(300)
    return sample[FEATURES], sample["churned"]


def test_random_forest_pipeline_is_accepted_and_loads(data):
    features, target = data
    spec = {"class": "sklearn.ensemble.RandomForestClassifier",
            "params": {"n_estimators": 5, "max_depth": 3, "random_state": 0}}
    model = build_model(spec, features).fit(features, target)

    trusted = trusted_types_for(model)

    assert "sklearn.tree._tree.Tree" in trusted
    assert set(trusted) <= TRUSTED_TYPES
    loaded = skops.io.loads(skops.io.dumps(model), trusted=trusted)
    assert (loaded.predict(features) == model.predict(features)).all()


def test_plain_linear_model_needs_no_extra_types(data):
    features, target = data
    model = LogisticRegression().fit(features[["tenure_months"]], target)

    assert trusted_types_for(model) == []


def test_custom_class_is_refused(data):
    features, target = data
    model = Pipeline([("double", Doubler()), ("model", RandomForestClassifier(n_estimators=2))])
    model.fit(features[["tenure_months"]], target)

    with pytest.raises(ConfigError, match=r"outside the reviewed allow-list \[.*Doubler'\]"):
        trusted_types_for(model)


SOUND_FLAVOR = {"serialization_format": "skops", "pickled_model": "model.skops",
                "skops_trusted_types": ["sklearn.tree._tree.Tree"]}


def test_loadable_skops_model_passes():
    check_loadable(SOUND_FLAVOR, "model 'm' v1")


def test_model_shipping_code_is_refused():
    with pytest.raises(RegistryError, match=r"model 'm' v1: ships code \('code'\) that loading "
                       "would put on the import path"):
        check_loadable({**SOUND_FLAVOR, "code": "code"}, "model 'm' v1")


@pytest.mark.parametrize("model_file", ["../../elsewhere/model.skops", "/tmp/model.skops",
                                        "sub/model.skops", "..", None, ""])
def test_model_file_outside_the_model_folder_is_refused(model_file):
    with pytest.raises(RegistryError, match=rf"model file {re.escape(repr(model_file))} is not a "
                       "plain file name in the model's folder"):
        check_loadable({**SOUND_FLAVOR, "pickled_model": model_file}, "model 'm' v1")


@pytest.mark.parametrize("fmt", ["cloudpickle", "pickle", None])
def test_pickled_model_is_refused(fmt):
    with pytest.raises(RegistryError, match=f"model 'm' v1: serialized as {fmt!r}, not 'skops'"):
        check_loadable({"serialization_format": fmt}, "model 'm' v1")


def test_model_trusting_unreviewed_types_is_refused():
    flavor = {"serialization_format": "skops",
              "skops_trusted_types": ["sklearn.tree._tree.Tree", "builtins.eval"]}

    with pytest.raises(RegistryError, match=re.escape("allow-list ['builtins.eval']")):
        check_loadable(flavor, "model 'm' v1")


def test_runtime_requirements_are_pinned_to_installed_versions():
    assert f"scikit-learn=={version('scikit-learn')}" in runtime_requirements()
    assert all("==" in requirement for requirement in runtime_requirements())


def _with_missing_values(features):
    holes = features.copy()
    holes.loc[holes.index[::5], "monthly_charges"] = None
    holes.loc[holes.index[1::7], "contract"] = None
    return holes


COLUMN_GROUPS = {
    "numeric": {"columns": ["tenure_months", "monthly_charges"], "steps": [
        {"class": "sklearn.impute.SimpleImputer", "params": {"strategy": "median"}},
        {"class": "sklearn.preprocessing.StandardScaler"}]},
    "categorical": {"columns": ["contract", "region"], "steps": [
        {"class": "sklearn.impute.SimpleImputer", "params": {"strategy": "most_frequent"}},
        {"class": "sklearn.preprocessing.OneHotEncoder", "params": {"handle_unknown": "ignore"}}]},
}


@pytest.mark.parametrize("estimator", [
    {"class": "sklearn.linear_model.LogisticRegression", "params": {"max_iter": 500}},
    {"class": "sklearn.ensemble.BaggingClassifier", "params": {
        "n_estimators": 3, "random_state": 0,
        "estimator": {"class": "sklearn.tree.DecisionTreeClassifier", "params": {"max_depth": 2}}}},
    {"class": "sklearn.ensemble.StackingClassifier", "params": {"cv": 2, "estimators": [
        ["linear", {"class": "sklearn.linear_model.LogisticRegression"}],
        ["tree", {"class": "sklearn.tree.DecisionTreeClassifier", "params": {"max_depth": 2}}]]}},
], ids=["logistic", "bagging", "stacking"])
def test_column_groups_with_missing_values_save_and_load(data, estimator):
    features, target = data
    features = _with_missing_values(features)
    model = build_model({**estimator, "preprocess": COLUMN_GROUPS}, features).fit(features, target)

    trusted = trusted_types_for(model)

    assert set(trusted) <= TRUSTED_TYPES
    loaded = skops.io.loads(skops.io.dumps(model), trusted=trusted)
    assert (loaded.predict(features) == model.predict(features)).all()
    with pytest.raises(UntrustedTypesFoundException):  # negative control: the list is needed
        skops.io.loads(skops.io.dumps(model), trusted=[])
