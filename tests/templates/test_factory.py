"""build_dags: one DAG per config; every broken config becomes its own error DAG."""

from __future__ import annotations

from pathlib import Path

import yaml

from airflow_mlops.templates.factory import BROKEN_TAG, build_dags, configs_folder
from airflow_mlops.templates.retrain import DAG_ID_PREFIX, build_retrain_dag

REPO = Path(__file__).resolve().parents[2]


def churn_config(**changes) -> dict:
    config = yaml.safe_load((REPO / "dags" / "models" / "churn.yaml").read_text())
    config["suite"] = str(REPO / "expectations" / "churn.json")
    return {**config, **changes}


def write(folder: Path, name: str, config: dict | str) -> Path:
    path = folder / name
    path.write_text(config if isinstance(config, str) else yaml.safe_dump(config))
    return path


def build(folder: Path, builder=build_retrain_dag) -> dict:
    return {dag.dag_id: dag for dag in build_dags(builder, folder, dag_id_prefix=DAG_ID_PREFIX)}


def broken(dag) -> bool:
    return BROKEN_TAG in dag.tags


def test_one_dag_per_config_in_name_order(tmp_path):
    for name in ("b", "a", "c"):
        write(tmp_path, f"{name}.yaml", churn_config(name=name))
    write(tmp_path, "notes.txt", "not a config")
    dags = build_dags(build_retrain_dag, tmp_path, dag_id_prefix=DAG_ID_PREFIX)
    assert [d.dag_id for d in dags] == ["nightly_retrain_a", "nightly_retrain_b",
                                        "nightly_retrain_c"]
    assert not any(broken(d) for d in dags)
    assert {t.task_id for t in dags[0].tasks} >= {"validate", "train", "evaluate", "promote"}
    assert dags[0].get_task("train").config_file == str(tmp_path / "a.yaml")  # named in errors


def test_yml_suffix_counts_and_missing_folder_builds_nothing(tmp_path):
    write(tmp_path, "a.yml", churn_config(name="a"))
    assert list(build(tmp_path)) == ["nightly_retrain_a"]
    assert build(tmp_path / "absent") == {}


def test_broken_config_keeps_its_models_dag_id_and_shows_the_error(tmp_path):
    write(tmp_path, "good.yaml", churn_config(name="good"))
    path = write(tmp_path, "churn.yaml", churn_config(holdout_fraction=3))
    dags = build(tmp_path)

    assert not broken(dags["nightly_retrain_good"])
    error_dag = dags["nightly_retrain_churn"]
    assert broken(error_dag)
    assert error_dag.description.startswith("Broken model config churn.yaml: ")
    assert "field 'holdout_fraction' (line" in error_dag.description
    assert str(path) in error_dag.doc_md
    assert type(error_dag.timetable).__name__ == "NullTimetable"  # never scheduled
    assert error_dag.is_paused_upon_creation is True
    assert [t.task_id for t in error_dag.tasks] == ["config_error"]


def test_unreadable_yaml_is_named_after_its_file(tmp_path):
    write(tmp_path, "my model.yaml", "name: [unclosed\n")
    (dag,) = build(tmp_path).values()
    assert dag.dag_id == f"nightly_retrain_my_model_{BROKEN_TAG}"
    assert "not valid YAML" in dag.description


def test_duplicate_name_second_file_is_broken(tmp_path):
    first = write(tmp_path, "a.yaml", churn_config())
    write(tmp_path, "b.yaml", churn_config())
    dags = build(tmp_path)
    assert not broken(dags["nightly_retrain_churn"])
    duplicate = dags[f"nightly_retrain_b_{BROKEN_TAG}"]
    assert f"model name 'churn' is already used by {first}" in duplicate.description


def test_broken_config_does_not_take_a_valid_models_id(tmp_path):
    write(tmp_path, "a.yaml", churn_config(target=None))  # broken, but declares 'churn'
    write(tmp_path, "b.yaml", churn_config())
    dags = build(tmp_path)
    assert not broken(dags["nightly_retrain_churn"])
    assert broken(dags[f"nightly_retrain_a_{BROKEN_TAG}"])


def test_a_builder_error_is_isolated_too(tmp_path):
    write(tmp_path, "a.yaml", churn_config(name="a", schedule="every night"))
    write(tmp_path, "b.yaml", churn_config(name="b"))
    dags = build(tmp_path)
    assert broken(dags["nightly_retrain_a"])
    assert "Exactly 5, 6 or 7 columns" in dags["nightly_retrain_a"].description
    assert not broken(dags["nightly_retrain_b"])


def test_configs_folder_default_and_override(tmp_path, monkeypatch):
    monkeypatch.delenv("AIRFLOW_MLOPS_CONFIGS", raising=False)
    assert configs_folder(tmp_path / "nightly_retrain.py") == tmp_path / "models"
    monkeypatch.setenv("AIRFLOW_MLOPS_CONFIGS", str(tmp_path / "elsewhere"))
    assert configs_folder(tmp_path / "nightly_retrain.py") == tmp_path / "elsewhere"
