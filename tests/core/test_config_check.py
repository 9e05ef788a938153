"""ConfigChecker: configs checked in one pass share their suite and their pipeline's fit."""

from __future__ import annotations

import shutil
from pathlib import Path

from airflow_mlops.core.config import load_model_config
from airflow_mlops.core.config_check import ConfigChecker, check_config

REPO = Path(__file__).resolve().parents[2]


def config_using(folder: Path, name: str, suite: Path) -> Path:
    text = (REPO / "dags" / "models" / "churn.yaml").read_text()
    text = text.replace("name: churn\n", f"name: {name}\n")
    text = text.replace("suite: ../../expectations/churn.json", f"suite: {suite}")
    path = folder / f"{name}.yaml"
    path.write_text(text)
    return path


def test_a_suite_file_is_read_once_per_pass(tmp_path):
    suite = tmp_path / "churn.json"
    shutil.copy(REPO / "expectations" / "churn.json", suite)
    first, second = (config_using(tmp_path, name, suite) for name in ("first", "second"))
    checker = ConfigChecker()
    assert checker.check(first, load_model_config(first)) == []
    suite.unlink()
    # the pass already holds the suite; a new check reads the file again and misses it
    assert checker.check(second, load_model_config(second)) == []
    (problem,) = check_config(second, load_model_config(second))
    assert problem.startswith("field 'suite' (line ") and "expectation suite not found" in problem


def test_a_config_with_a_broken_suite_gets_its_own_problem(tmp_path):
    suite = tmp_path / "churn.json"
    shutil.copy(REPO / "expectations" / "churn.json", suite)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    good, bad = config_using(tmp_path, "good", suite), config_using(tmp_path, "bad", broken)
    checker = ConfigChecker()
    assert checker.check(good, load_model_config(good)) == []
    (problem,) = checker.check(bad, load_model_config(bad))
    assert "field 'suite'" in problem and "not valid JSON" in problem
