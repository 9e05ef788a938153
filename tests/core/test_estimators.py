"""Tests for building scikit-learn models from estimator specs."""

from __future__ import annotations

import re

import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from airflow_mlops.core.errors import ConfigError
from airflow_mlops.core.estimators import EstimatorError, build_estimator, build_model

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


TREE = "sklearn.tree.DecisionTreeClassifier"


def test_nested_estimator_specs_are_built_also_inside_lists():
    from sklearn.ensemble import BaggingClassifier, VotingClassifier
    from sklearn.tree import DecisionTreeClassifier

    bagging = build_estimator({"class": "sklearn.ensemble.BaggingClassifier", "params": {
        "estimator": {"class": TREE, "params": {"max_depth": 2}}}})
    voting = build_estimator({"class": "sklearn.ensemble.VotingClassifier", "params": {
        "estimators": [["tree", {"class": TREE}], ["linear", {"class": LOGISTIC}]]}})

    assert isinstance(bagging, BaggingClassifier)
    assert isinstance(bagging.estimator, DecisionTreeClassifier)
    assert bagging.estimator.max_depth == 2
    assert isinstance(voting, VotingClassifier)
    assert [type(e) for _, e in voting.estimators] == [DecisionTreeClassifier, LogisticRegression]


def test_a_mapping_that_is_a_param_value_stays_a_mapping():
    # negative control of the nested-spec rule: no 'class', no 'params', so a plain value
    estimator = build_estimator({"class": LOGISTIC, "params": {"class_weight": {0: 1, 1: 3}}})

    assert estimator.class_weight == {0: 1, 1: 3}


@pytest.mark.parametrize(("nested", "field"), [
    ({"class": "os.system"}, "estimator.params.estimator.class"),
    ({"class": TREE, "params": {"depth": 1}}, "estimator.params.estimator.params"),
    ({"params": {"max_depth": 1}}, "estimator.params.estimator"),
    ({"kind": TREE}, "estimator.params.estimator"),
])
def test_a_broken_nested_spec_names_its_field(nested, field):
    spec = {"class": "sklearn.ensemble.BaggingClassifier", "params": {"estimator": nested}}

    with pytest.raises(EstimatorError, match=f"^field '{re.escape(field)}': ") as raised:
        build_estimator(spec)
    assert ".".join(map(str, raised.value.location)) == field


def test_without_automatic_encoding_the_steps_get_the_columns_as_they_are(customers):
    features = customers[["tenure_months", "monthly_charges"]].head(100)
    spec = {"class": LOGISTIC, "encode_categoricals": False}

    model = build_model(spec, features).fit(features, customers["churned"].head(100))

    assert [name for name, _ in model.steps] == ["estimator"]
    assert model.named_steps["estimator"].coef_.shape[1] == 2
    text = customers[["tenure_months", "contract"]].head(100)
    with pytest.raises(ValueError, match="could not convert string to float"):
        build_model(spec, text).fit(text, customers["churned"].head(100))
    # negative control: with the default, the same columns are encoded and train
    build_model({"class": LOGISTIC}, text).fit(text, customers["churned"].head(100))


def test_column_groups_replace_the_automatic_encoding(customers):
    from sklearn.preprocessing import OrdinalEncoder

    features = customers[["tenure_months", "contract", "region"]].head(100)
    spec = {"class": LOGISTIC, "preprocess": {"codes": {
        "columns": ["contract"], "steps": [{"class": "sklearn.preprocessing.OrdinalEncoder"}]}}}

    model = build_model(spec, features)

    name, step, columns = model.named_steps["prepare"].transformers[0]
    assert (name, type(step), columns) == ("codes", OrdinalEncoder, ["contract"])
    assert len(model.named_steps["prepare"].transformers) == 1  # region is not auto-encoded


def test_a_column_group_naming_an_unknown_column_is_named(customers):
    features = customers[["tenure_months"]].head(10)
    spec = {"class": LOGISTIC, "preprocess": {"numeric": {
        "columns": ["tenure"], "steps": [{"class": "sklearn.preprocessing.StandardScaler"}]}}}

    with pytest.raises(EstimatorError, match=r"field 'estimator.preprocess.numeric.columns': "
                                             r"\['tenure'\] not among the features"):
        build_model(spec, features)
