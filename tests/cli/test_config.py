"""``airflow-mlops config check``: every problem named with its file, field and line."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from airflow_mlops.cli.main import main

REPO = Path(__file__).resolve().parents[2]


def churn_config(**changes) -> dict:
    config = yaml.safe_load((REPO / "dags" / "models" / "churn.yaml").read_text())
    config["suite"] = str(REPO / "expectations" / "churn.json")
    config.update(changes)
    return config


def write(folder: Path, name: str, config: dict | str) -> Path:
    path = folder / name
    path.write_text(config if isinstance(config, str) else yaml.safe_dump(config, sort_keys=False))
    return path


def check(capsys, *paths) -> tuple[int, str]:
    code = main(["config", "check", *map(str, paths)])
    return code, capsys.readouterr().out


def test_the_bundled_configs_pass(capsys):
    code, out = check(capsys, REPO / "dags" / "models")
    assert code == 0
    assert "ok   " in out and "(model churn)" in out
    assert out.strip().endswith("1 of 1 configs ok")


def test_default_folder_comes_from_the_environment(capsys, tmp_path, monkeypatch):
    write(tmp_path, "a.yaml", churn_config(name="a"))
    monkeypatch.setenv("AIRFLOW_MLOPS_CONFIGS", str(tmp_path))
    code, out = check(capsys)
    assert code == 0
    assert "(model a)" in out


def test_schema_errors_name_file_field_and_line(capsys, tmp_path):
    path = write(tmp_path, "bad.yaml", churn_config(holdout_fraction=2, retries={"count": -1}))
    code, out = check(capsys, path)
    lines = path.read_text().splitlines()
    holdout_line = next(n for n, text in enumerate(lines, 1) if text.startswith("holdout_fraction"))
    assert code == 1
    assert f"FAIL {path}: " in out
    assert f"field 'holdout_fraction' (line {holdout_line}): Input should be less than 1" in out
    assert "field 'retries.count' (line" in out
    assert out.strip().endswith("0 of 1 configs ok")


def test_unknown_estimator_class_is_found_before_any_run(capsys, tmp_path):
    estimator = {"steps": [{"class": "sklearn.preprocessing.StandardScaler"},
                           {"class": "sklearn.linear_model.LogisticRegresion"}]}
    path = write(tmp_path, "typo.yaml", churn_config(estimator=estimator))
    code, out = check(capsys, path)
    line = path.read_text().splitlines().index("  - class: sklearn.linear_model.LogisticRegresion")
    assert code == 1
    assert (f"field 'estimator.steps.1.class' (line {line + 1}): estimator "
            "'sklearn.linear_model.LogisticRegresion' cannot be imported") in out


def test_estimator_params_are_checked(capsys, tmp_path):
    estimator = {"class": "sklearn.linear_model.LogisticRegression", "params": {"CC": 1}}
    code, out = check(capsys, write(tmp_path, "p.yaml", churn_config(estimator=estimator)))
    assert code == 1
    assert "field 'estimator.params'" in out and "bad params" in out and "CC" in out


def test_missing_or_broken_suite_is_named(capsys, tmp_path):
    code, out = check(capsys, write(tmp_path, "s.yaml", churn_config(suite="nowhere.json")))
    assert code == 1
    assert "field 'suite' (line" in out and "nowhere.json: expectation suite not found" in out

    suite = tmp_path / "odd.json"
    suite.write_text('{"expectations": [{"type": "expect_nothing", "kwargs": {}}]}')
    code, out = check(capsys, write(tmp_path, "s.yaml", churn_config(suite=str(suite))))
    assert code == 1
    assert "unknown expectation type 'expect_nothing'" in out


def test_custom_metric_and_notifier_must_import(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW_MLOPS_IMPORT_PREFIXES", "airflow.sdk")
    promotion = churn_config()["promotion"]
    promotion["custom_metrics"] = {"cost": {"function": "nowhere.cost",
                                            "greater_is_better": False}}
    alerts = {"on_failure": [{"notifier": "airflow.sdk.BaseHook"}],
              "on_promotion": [{"notifier": "nowhere.Notifier"}]}
    path = write(tmp_path, "m.yaml", churn_config(promotion=promotion, alerts=alerts))
    code, out = check(capsys, path)
    assert code == 1
    assert "field 'promotion.custom_metrics.cost.function' (line" in out
    assert "field 'alerts.on_failure.0.notifier': 'airflow.sdk.BaseHook' is not an Airflow " \
           "notifier" in out
    assert "field 'alerts.on_promotion.0.notifier': notifier 'nowhere.Notifier' is not in an " \
           "allowed module" in out


def test_a_schedule_the_template_cannot_build_is_reported(capsys, tmp_path):
    code, out = check(capsys, write(tmp_path, "c.yaml", churn_config(schedule="every night")))
    assert code == 1
    assert "build_retrain_dag: " in out


def test_duplicate_model_names_are_reported(capsys, tmp_path):
    write(tmp_path, "a.yaml", churn_config())
    second = write(tmp_path, "b.yaml", churn_config())
    code, out = check(capsys, tmp_path)
    assert code == 1
    assert f"FAIL {second}: field 'name': 'churn' is already used by {tmp_path / 'a.yaml'}" in out
    assert out.strip().endswith("1 of 2 configs ok")


def test_one_broken_config_does_not_hide_the_others(capsys, tmp_path):
    write(tmp_path, "a.yaml", "name: [unclosed\n")
    write(tmp_path, "b.yml", churn_config(name="b"))
    code, out = check(capsys, tmp_path)
    assert code == 1
    assert "not valid YAML" in out and "(model b)" in out


@pytest.mark.parametrize("kind", ["empty folder", "missing folder"])
def test_no_configs_is_unusable_input(capsys, tmp_path, kind):
    folder = tmp_path if kind == "empty folder" else tmp_path / "nowhere"
    code, out = check(capsys, folder)
    assert code == 2
    assert "no model configs" in out or "no such file or folder" in out


BAGGING = "sklearn.ensemble.BaggingClassifier"
TREE = "sklearn.tree.DecisionTreeClassifier"
GROUPS = {
    "numeric": {"columns": ["tenure_months", "monthly_charges", "support_calls"], "steps": [
        {"class": "sklearn.impute.SimpleImputer", "params": {"strategy": "median"}},
        {"class": "sklearn.preprocessing.StandardScaler"}]},
    "categorical": {"columns": ["contract", "region"], "steps": [
        {"class": "sklearn.impute.SimpleImputer", "params": {"strategy": "most_frequent"}},
        {"class": "sklearn.preprocessing.OneHotEncoder", "params": {"handle_unknown": "ignore"}}]},
}


def bagging(nested) -> dict:
    return {"class": BAGGING, "params": {"n_estimators": 3, "estimator": nested},
            "preprocess": GROUPS}


def test_a_column_group_pipeline_with_a_nested_estimator_passes(capsys, tmp_path):
    config = churn_config(estimator=bagging({"class": TREE, "params": {"max_depth": 3}}))
    code, out = check(capsys, write(tmp_path, "bagging.yaml", config))
    assert code == 0, out


@pytest.mark.parametrize(("nested", "field", "message", "marker"), [
    ({"class": TREE, "params": {"max_dept": 3}}, "estimator.params.estimator.params",
     "bad params", "params:"),
    ({"class": "os.system"}, "estimator.params.estimator.class", "not in an allowed module",
     "class: os.system"),
    ({"params": {"max_depth": 3}}, "estimator.params.estimator", "needs 'class'", "estimator:"),
    ({"kind": TREE}, "estimator.params.estimator", "must be an object implementing 'fit'",
     "estimator:"),
], ids=["unknown param", "class outside the allow-list", "params without class", "raw mapping"])
def test_a_broken_nested_estimator_is_named_with_its_line(capsys, tmp_path, nested, field,
                                                          message, marker):
    path = write(tmp_path, "broken.yaml", churn_config(estimator=bagging(nested)))
    lines = path.read_text().splitlines()
    nested_at = lines.index("    estimator:")
    line = next(i for i in range(nested_at, len(lines)) if marker in lines[i]) + 1
    code, out = check(capsys, path)
    assert code == 1
    assert f"field '{field}' (line {line}): " in out and message in out, out


def test_a_step_that_cannot_take_missing_values_fails_the_check(capsys, tmp_path):
    groups = {**GROUPS, "numeric": {**GROUPS["numeric"], "steps": GROUPS["numeric"]["steps"][1:]}}
    estimator = {"class": "sklearn.linear_model.LogisticRegression", "preprocess": groups}
    path = write(tmp_path, "no-imputer.yaml", churn_config(estimator=estimator))
    code, out = check(capsys, path)
    assert code == 1
    assert "field 'estimator' (line " in out and "Input X contains NaN" in out, out
    # negative control: the same groups with the imputer train
    estimator["preprocess"] = GROUPS
    imputed = write(tmp_path, "imputed.yaml", churn_config(estimator=estimator))
    assert check(capsys, imputed)[0] == 0


def test_text_columns_without_encoding_fail_the_check(capsys, tmp_path):
    estimator = {"steps": churn_config()["estimator"]["steps"], "encode_categoricals": False}
    code, out = check(capsys, write(tmp_path, "raw.yaml", churn_config(estimator=estimator)))
    assert code == 1
    assert "field 'estimator'" in out and "does not train" in out, out
    numeric = churn_config(estimator=estimator, features=["tenure_months", "monthly_charges",
                                                            "support_calls"])
    assert check(capsys, write(tmp_path, "raw.yaml", numeric))[0] == 0


def test_a_column_group_step_that_does_not_import_is_named_with_its_line(capsys, tmp_path):
    steps = [GROUPS["numeric"]["steps"][0], {"class": "sklearn.preprocessing.StandardScalar"}]
    groups = {**GROUPS, "numeric": {**GROUPS["numeric"], "steps": steps}}
    estimator = {"class": "sklearn.linear_model.LogisticRegression", "preprocess": groups}
    path = write(tmp_path, "typo.yaml", churn_config(estimator=estimator))
    line = path.read_text().splitlines().index(
        "      - class: sklearn.preprocessing.StandardScalar") + 1

    code, out = check(capsys, path)

    assert code == 1
    assert (f"field 'estimator.preprocess.numeric.steps.1.class' (line {line}): estimator "
            "'sklearn.preprocessing.StandardScalar' cannot be imported") in out, out


def test_a_folder_of_many_configs_reports_every_file(capsys, tmp_path):
    steps = churn_config()["estimator"]["steps"]
    paths = []
    for number in range(30):
        classifier = {**steps[-1], "params": {"C": [0.5, 1.0, 2.0][number % 3], "max_iter": 500}}
        if number == 17:
            classifier["params"]["C"] = -1.0
        estimator = {"steps": [*steps[:-1], classifier]}
        paths.append(write(tmp_path, f"model{number:02}.yaml",
                           churn_config(name=f"model{number:02}", estimator=estimator)))
    broken = paths[17]
    line = next(number for number, text in enumerate(broken.read_text().splitlines(), 1)
                if text.strip() == "C: -1.0")

    code, out = check(capsys, tmp_path)

    assert code == 1
    lines = out.splitlines()
    assert [line for line in lines if line.startswith("FAIL")] == [
        f"FAIL {broken}: field 'estimator.steps.2.params.C' (line {line}): estimator "
        "'sklearn.linear_model.LogisticRegression': The 'C' parameter of LogisticRegression "
        "must be a float in the range (0.0, inf]. Got -1.0 instead."]
    assert [f"ok   {path} (model {path.stem})" for path in paths if path != broken] == \
        [line for line in lines if line.startswith("ok")]
    assert lines[-1] == "29 of 30 configs ok"
