"""Tests for loading and validating model configs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from airflow_mlops.core.config import load_model_config, peek_name
from airflow_mlops.core.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
VALID = {
    "name": "churn",
    "start_date": "2026-01-01",
    "data_uri": "/data/customers.csv",
    "target": "churned",
    "suite": "suites/churn.json",
    "estimator": {"class": "sklearn.linear_model.LogisticRegression", "params": {"C": 0.5}},
}


def write(folder: Path, content: dict | str, name: str = "model.yaml") -> Path:
    """Write a config file (a mapping is dumped as YAML) and return its path."""
    path = folder / name
    path.write_text(content if isinstance(content, str) else yaml.safe_dump(content))
    return path


def with_changes(**changes) -> dict:
    return {**VALID, **changes}


def test_valid_config_loads(tmp_path):
    config = load_model_config(write(tmp_path, VALID))

    assert config.name == "churn"
    assert config.start_date == dt.date(2026, 1, 1)
    assert config.estimator.class_path == "sklearn.linear_model.LogisticRegression"
    assert config.estimator.params == {"C": 0.5}
    assert config.experiment_name == "airflow-mlops/churn"
    assert config.promotion.primary_metric == "roc_auc"


def test_relative_suite_resolves_against_the_config_folder(tmp_path, monkeypatch):
    folder = tmp_path / "configs"
    folder.mkdir()
    path = write(folder, VALID)
    monkeypatch.chdir(tmp_path)

    config = load_model_config(Path("configs") / path.name)

    assert config.suite == (folder / "suites" / "churn.json").resolve()


def test_absolute_suite_is_kept(tmp_path):
    suite = tmp_path / "elsewhere" / "suite.json"
    config = load_model_config(write(tmp_path, with_changes(suite=str(suite))))

    assert config.suite == suite


def test_allowed_environment_variables_in_data_uri_are_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW_MLOPS_LAKE", "/mnt/lake")
    monkeypatch.setenv("DATA_ROOT", "/data")
    monkeypatch.setenv("AIRFLOW_MLOPS_CONFIG_ENV_ALLOW", "OTHER, DATA_ROOT")
    path = write(tmp_path, with_changes(data_uri="${AIRFLOW_MLOPS_LAKE}/$DATA_ROOT/{{ ds }}.csv"))

    assert load_model_config(path).data_uri == "/mnt/lake//data/{{ ds }}.csv"


def test_bundled_dag_config_is_valid(monkeypatch):
    monkeypatch.setenv("AIRFLOW_MLOPS_DATA_ROOT", "/data")
    repo = Path(__file__).resolve().parents[2]

    config = load_model_config(repo / "dags" / "models" / "churn.yaml")

    assert config.suite == (repo / "expectations" / "churn.json").resolve()
    assert config.data_uri.startswith("/data/")


def test_missing_file_is_named(tmp_path):
    path = tmp_path / "absent.yaml"

    with pytest.raises(ConfigError, match="absent.yaml: model config not found"):
        load_model_config(path)


def test_invalid_yaml_is_named(tmp_path):
    path = write(tmp_path, "name: churn\nestimator: [unclosed\n", name="broken.yaml")

    with pytest.raises(ConfigError, match="broken.yaml: not valid YAML"):
        load_model_config(path)


@pytest.mark.parametrize(("content", "kind"), [("- a\n- b\n", "list"), ("", "NoneType")])
def test_non_mapping_yaml_is_refused(tmp_path, content, kind):
    path = write(tmp_path, content)

    with pytest.raises(ConfigError, match=f"model.yaml: expected a mapping of fields, got {kind}"):
        load_model_config(path)


def test_missing_required_field_is_named(tmp_path):
    path = write(tmp_path, {k: v for k, v in VALID.items() if k != "target"})

    with pytest.raises(ConfigError, match=r"model.yaml: field 'target': Field required"):
        load_model_config(path)


def test_unknown_field_is_named(tmp_path):
    path = write(tmp_path, with_changes(tragets="churned"))

    with pytest.raises(ConfigError, match=r"field 'tragets' \(line \d+\): Extra"):
        load_model_config(path)


def test_unknown_nested_field_is_named(tmp_path):
    promotion = {"primary_metric": "roc_auc", "treshold": 0.7}
    path = write(tmp_path, with_changes(promotion=promotion))

    with pytest.raises(ConfigError, match=r"field 'promotion.treshold' \(line \d+\): Extra inputs"):
        load_model_config(path)


@pytest.mark.parametrize("name", ["1churn", "churn model", "churn/v2", ""])
def test_bad_model_name_is_refused(tmp_path, name):
    path = write(tmp_path, with_changes(name=name))

    with pytest.raises(ConfigError, match=r"field 'name' \(line \d+\): String should"):
        load_model_config(path)


@pytest.mark.parametrize(
    "estimator",
    [
        {"class": "sklearn.linear_model.LogisticRegression",
         "steps": [{"class": "sklearn.preprocessing.StandardScaler"}]},
        {"params": {"C": 1.0}},
    ],
    ids=["both", "neither"],
)
def test_estimator_needs_exactly_one_of_class_or_steps(tmp_path, estimator):
    path = write(tmp_path, with_changes(estimator=estimator))

    with pytest.raises(ConfigError, match=r"'estimator' \(line \d+\): give exactly one of"):
        load_model_config(path)


def test_empty_pipeline_is_refused(tmp_path):
    path = write(tmp_path, with_changes(estimator={"steps": []}))

    with pytest.raises(ConfigError, match=r"'estimator.steps' \(line \d+\): .*at least one"):
        load_model_config(path)


@pytest.mark.parametrize("fraction", [0, 1, -0.1, 1.5])
def test_holdout_fraction_out_of_range_is_refused(tmp_path, fraction):
    path = write(tmp_path, with_changes(holdout_fraction=fraction))

    with pytest.raises(ConfigError, match=r"model.yaml: field 'holdout_fraction'"):
        load_model_config(path)


def test_every_problem_is_reported_at_once(tmp_path):
    path = write(tmp_path, with_changes(name="9", holdout_fraction=2))

    with pytest.raises(ConfigError) as raised:
        load_model_config(path)

    assert "field 'name'" in str(raised.value)
    assert "field 'holdout_fraction'" in str(raised.value)


def test_promotion_metric_must_fit_the_task(tmp_path):
    path = write(tmp_path, with_changes(task="regression", target="monthly_charges"))

    with pytest.raises(
        ConfigError,
        match=r"field 'promotion.primary_metric': 'roc_auc' is not a regression metric; "
        r"choose one of rmse, mae, r2",
    ):
        load_model_config(path)


def test_promotion_direction_may_be_left_to_the_metric(tmp_path):
    promotion = {"primary_metric": "rmse"}
    path = write(tmp_path, with_changes(task="regression", promotion=promotion))

    assert load_model_config(path).promotion.greater_is_better is None


def test_promotion_direction_contradicting_the_metric_is_refused(tmp_path):
    promotion = {"primary_metric": "rmse", "greater_is_better": True}
    path = write(tmp_path, with_changes(task="regression", promotion=promotion))

    with pytest.raises(ConfigError, match=r"field 'promotion.greater_is_better'.*lower is better"):
        load_model_config(path)


def test_shipped_config_declares_the_whole_promotion_policy(monkeypatch, tmp_path):
    monkeypatch.setenv("AIRFLOW_MLOPS_DATA_ROOT", str(tmp_path))
    promotion = load_model_config(REPO / "dags" / "models" / "churn.yaml").promotion

    assert promotion.guardrails == {"log_loss": 0.05}
    assert (promotion.slices.column, promotion.slices.min_rows) == ("contract", 30)
    assert (promotion.bootstrap.resamples, promotion.bootstrap.confidence) == (1000, 0.95)
    assert (promotion.approval.always, promotion.approval.escalate) == (False, [])
    assert (promotion.on_failure, promotion.dry_run, promotion.pool) == ("warn", False, None)


@pytest.mark.parametrize(("promotion", "message"), [
    ({"guardrails": {"rmse": 0.1}},
     r"field 'promotion.guardrails.rmse' \(line \d+\): 'rmse' is not a classification metric"),
    ({"slices": {"column": "contract", "metric": "r2"}},
     r"field 'promotion.slices.metric' \(line \d+\): 'r2' is not a classification metric"),
    ({"guardrails": {"f1": -0.1}}, r"the allowed regression of f1 is negative"),
    ({"custom_metrics": {"f1": {"function": "m.f", "greater_is_better": True}}},
     r"f1 is a built-in metric; name it differently"),
    ({"approval": {"escalate": ["improvement"]}},
     r"field 'promotion.approval.escalate.0' \(line \d+\): Input should be 'significance', "
     r"'guardrails' or 'slices'"),
    ({"bootstrap": {"resamples": 10}}, r"field 'promotion.bootstrap.resamples'"),
    ({"bootstrap": {"confidence": 1.0}}, r"field 'promotion.bootstrap.confidence'"),
    ({"min_absolute_change": -0.1}, r"field 'promotion.min_absolute_change'"),
    ({"on_failure": "ignore"}, r"field 'promotion.on_failure'"),
])
def test_promotion_policy_mistakes_are_named(tmp_path, promotion, message):
    with pytest.raises(ConfigError, match=message):
        load_model_config(write(tmp_path, with_changes(promotion=promotion)))


def test_custom_metrics_may_be_primary_guardrail_or_slice_metric(tmp_path):
    custom = {"cost": {"function": "pkg.metrics.cost", "greater_is_better": False}}
    promotion = {"primary_metric": "cost", "greater_is_better": False, "custom_metrics": custom,
                 "guardrails": {"cost": 1.0}, "slices": {"column": "region", "metric": "cost"}}

    policy = load_model_config(write(tmp_path, with_changes(promotion=promotion))).promotion

    assert policy.direction("cost") is False
    assert policy.direction("log_loss") is False and policy.direction("f1") is True
    assert [(m.name, m.function, m.greater_is_better) for m in policy.custom()] == [
        ("cost", "pkg.metrics.cost", False)]


def test_custom_primary_metric_direction_must_agree(tmp_path):
    custom = {"cost": {"function": "pkg.metrics.cost", "greater_is_better": False}}
    promotion = {"primary_metric": "cost", "greater_is_better": True, "custom_metrics": custom}

    with pytest.raises(ConfigError, match=r"field 'promotion.greater_is_better' \(line \d+\): True "
                                          r"contradicts 'cost', for which lower is better"):
        load_model_config(write(tmp_path, with_changes(promotion=promotion)))


@pytest.mark.parametrize("experiment", ["../etc", "a/../b", "a//b", "a/", "/abs", "a b", "a..b"])
def test_experiment_names_cannot_escape_or_smuggle(tmp_path, experiment):
    with pytest.raises(ConfigError, match=r"field 'experiment' \(line \d+\): String should"):
        load_model_config(write(tmp_path, with_changes(experiment=experiment)))


def test_experiment_names_with_folders_are_fine(tmp_path):
    config = load_model_config(write(tmp_path, with_changes(experiment="team-a/churn.v2")))
    assert config.experiment_name == "team-a/churn.v2"


def test_defaults_for_retries_timeouts_and_alerts(tmp_path):
    config = load_model_config(write(tmp_path, with_changes()))
    assert (config.retries.count, config.retries.backoff) == (2, 2.0)
    assert config.timeouts.task_minutes == 240 and config.timeouts.run_hours is None
    assert config.alerts.on_failure == [] and config.data_query is None


@pytest.mark.parametrize("changes, message", [
    ({"alerts": {"on_failure": [{"notifier": "not a path"}]}},
     r"field 'alerts.on_failure.0.notifier' \(line \d+\): String should match"),
    ({"alerts": {"on_failure": [{"notifier": "pkg.Notifier", "parms": {}}]}},
     r"field 'alerts.on_failure.0.parms' \(line \d+\): Extra inputs"),
    ({"data_query": {"sql": "", "conn_id": "warehouse"}}, r"field 'data_query.sql'"),
    ({"data_query": {"sql": "SELECT 1"}},
     r"field 'data_query.conn_id' \(line \d+\): Field required"),
    ({"timeouts": {"task_minutes": 0}}, r"field 'timeouts.task_minutes' \(line \d+\)"),
    ({"retries": {"backoff": -1}}, r"field 'retries.backoff' \(line \d+\)"),
])
def test_factory_fields_are_checked(tmp_path, changes, message):
    with pytest.raises(ConfigError, match=message):
        load_model_config(write(tmp_path, with_changes(**changes)))


def test_line_numbers_point_at_the_nested_field(tmp_path):
    text = yaml.safe_dump(with_changes(), sort_keys=False) + "retries:\n  count: 1\n  delay: 5\n"
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as raised:
        load_model_config(path)
    line = text.splitlines().index("  delay: 5") + 1
    assert f"field 'retries.delay' (line {line}): Extra inputs are not permitted" in str(
        raised.value)


def test_peek_name_reads_a_valid_name_from_a_broken_config(tmp_path):
    assert peek_name(write(tmp_path, with_changes(target=None))) == "churn"
    assert peek_name(write(tmp_path, with_changes(name="no spaces allowed"))) is None
    assert peek_name(write(tmp_path, "name: [unclosed\n")) is None
    assert peek_name(tmp_path / "absent.yaml") is None


PREPROCESS_YAML = """\
estimator:
  preprocess:
    numeric: {columns: [a], steps: [{class: sklearn.impute.SimpleImputer}]}
    categorical:
      columns: [b]
      steps:
        - class: sklearn.preprocessing.OneHotEncoder
          params: {handle_unknwn: ignore}
          extra: 1
  class: sklearn.linear_model.LogisticRegression
"""


def test_column_groups_load_with_their_steps(tmp_path):
    estimator = {"class": "sklearn.linear_model.LogisticRegression", "preprocess": {
        "numeric": {"columns": ["a"], "steps": [{"class": "sklearn.impute.SimpleImputer"}]}}}
    config = load_model_config(write(tmp_path, with_changes(estimator=estimator)))

    group = config.estimator.preprocess["numeric"]
    assert group.columns == ["a"] and group.steps[0].class_path == "sklearn.impute.SimpleImputer"
    assert config.estimator.encode_categoricals is True


def test_a_column_group_step_with_an_unknown_key_is_named_with_its_line(tmp_path):
    text = yaml.safe_dump({k: v for k, v in VALID.items() if k != "estimator"}) + PREPROCESS_YAML
    path = write(tmp_path, text)
    line = text.splitlines().index("          extra: 1") + 1

    with pytest.raises(ConfigError, match=rf"field 'estimator.preprocess.categorical.steps.0.extra'"
                                          rf" \(line {line}\)"):
        load_model_config(path)


@pytest.mark.parametrize(("nested", "field"), [
    ({"class": "sklearn.tree.DecisionTreeClassifier", "steps": []},
     "estimator.params.estimator.steps"),
    ({"class": "sklearn.tree.DecisionTreeClassifier", "parms": {}},
     "estimator.params.estimator.parms"),
    ({"params": {"max_depth": 2}}, "estimator.params.estimator"),
    ([{"class": "a.B"}, {"params": {}}], "estimator.params.estimator.1"),
])
def test_a_nested_estimator_spec_is_checked_by_the_schema(tmp_path, nested, field):
    estimator = {"class": "sklearn.ensemble.BaggingClassifier", "params": {"estimator": nested}}

    with pytest.raises(ConfigError, match=rf"field '{field}' \(line \d+\)"):
        load_model_config(write(tmp_path, with_changes(estimator=estimator)))


def test_a_mapping_param_without_class_is_a_plain_value(tmp_path):
    estimator = {"class": "sklearn.linear_model.LogisticRegression",
                 "params": {"class_weight": {0: 1, 1: 2}}}
    config = load_model_config(write(tmp_path, with_changes(estimator=estimator)))
    assert config.estimator.params == {"class_weight": {0: 1, 1: 2}}
