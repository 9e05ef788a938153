"""Whatever one config file holds, the DAG files import in time and every good model keeps its
DAGs: size, nesting and YAML aliases are capped before anything is composed or expanded."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from airflow_mlops.cli.config import check
from airflow_mlops.core.config import load_model_config
from airflow_mlops.core.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "dags"
LEVELS = 8


def churn_config(**changes) -> dict:
    config = yaml.safe_load((DAGS / "models" / "churn.yaml").read_text())
    return {**config, "suite": str(REPO / "expectations" / "churn.json"), **changes}


def with_params(name: str, params_yaml: str) -> str:
    """A churn config named ``name`` whose estimator params are the given YAML block."""
    config = churn_config(name=name)
    del config["estimator"]
    estimator = ("estimator:\n  class: sklearn.linear_model.LogisticRegression\n  params:\n"
                 + textwrap.indent(params_yaml, "    "))
    return yaml.safe_dump(config, sort_keys=False) + estimator


def alias_bomb() -> str:
    """8 levels of anchors, each a list of 9 aliases of the level below: 9**8 leaves."""
    names = "abcdefghi"
    levels = ["a: &a [" + ", ".join(["lol"] * 9) + "]"]
    levels += [f"{names[i]}: &{names[i]} [" + ", ".join([f"*{names[i - 1]}"] * 9) + "]"
               for i in range(1, LEVELS)]
    return "\n".join(levels) + "\n"


def deep_nesting(depth: int = 100_000) -> str:
    return "deep: " + "[" * depth + "]" * depth + "\n"


def oversized(name: str) -> str:
    """A valid config followed by 22 MB of comment lines."""
    filler = ("# " + "x" * 1_000 + "\n") * 22_000
    return yaml.safe_dump(churn_config(name=name), sort_keys=False) + filler


@pytest.fixture
def configs(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "models"
    folder.mkdir()
    monkeypatch.setenv("AIRFLOW_MLOPS_CONFIGS", str(folder))
    monkeypatch.setenv("AIRFLOW_MLOPS_DATA_ROOT", str(tmp_path / "data"))
    return folder


def test_a_dag_folder_with_bombs_imports_and_keeps_every_good_model(configs, airflow_db):
    from airflow.configuration import conf
    from airflow.dag_processing.dagbag import DagBag

    for name in ("churn", "upsell", "zeta"):
        (configs / f"{name}.yaml").write_text(yaml.safe_dump(churn_config(name=name)))
    (configs / "bomb.yaml").write_text(with_params("bomb", alias_bomb()))
    (configs / "deep.yaml").write_text(with_params("deep", deep_nesting()))
    (configs / "huge.yaml").write_text(oversized("huge"))
    assert len(alias_bomb()) < 4_000 and (configs / "huge.yaml").stat().st_size > 22_000_000
    assert conf.getfloat("core", "dagbag_import_timeout") == 30

    bag = DagBag(dag_folder=str(DAGS))

    assert bag.import_errors == {}
    for prefix in ("nightly_retrain", "drift_monitor"):
        for name in ("churn", "upsell", "zeta"):
            assert "config-error" not in bag.get_dag(f"{prefix}_{name}").tags
        causes = {
            f"{prefix}_bomb": "YAML aliases expand to more than 1000 nodes",
            f"{prefix}_deep": "nested deeper than 32 levels",
            f"{prefix}_huge_config-error": "larger than 262144 bytes",
        }
        for dag_id, cause in causes.items():
            dag = bag.get_dag(dag_id)
            assert "config-error" in dag.tags
            assert cause in dag.description, dag.description


def test_config_check_refuses_each_bomb(configs):
    (configs / "bomb.yaml").write_text(with_params("bomb", alias_bomb()))
    (configs / "deep.yaml").write_text(with_params("deep", deep_nesting()))
    (configs / "huge.yaml").write_text(oversized("huge"))

    code, lines = check([configs])

    assert code == 1
    assert lines[-1] == "0 of 3 configs ok"


def test_negative_control_the_bomb_expands_to_43_million_values():
    params = yaml.safe_load(alias_bomb())  # PyYAML shares the aliased lists: cheap to load
    sizes: dict[int, int] = {}

    def leaves(value) -> int:
        if not isinstance(value, list):
            return 1
        if id(value) not in sizes:
            sizes[id(value)] = sum(leaves(item) for item in value)
        return sizes[id(value)]

    # ... but validating, copying or serializing the params walks every one of them.
    assert leaves(params["h"]) == 9 ** LEVELS == 43_046_721


def test_negative_control_deep_nesting_crashes_the_yaml_parser(tmp_path):
    path = tmp_path / "deep.yaml"
    path.write_text(deep_nesting())
    code = f"import yaml; yaml.load(open({str(path)!r}).read(), Loader=yaml.CSafeLoader)"

    result = subprocess.run([sys.executable, "-c", code], capture_output=True)

    assert result.returncode < 0  # killed by a signal (stack overflow), not a Python error


def test_negative_control_only_the_cap_refuses_the_oversized_file(tmp_path, monkeypatch):
    path = tmp_path / "huge.yaml"
    path.write_text(oversized("huge"))
    with pytest.raises(ConfigError, match="larger than 262144 bytes"):
        load_model_config(path)

    monkeypatch.setenv("AIRFLOW_MLOPS_CONFIG_MAX_BYTES", str(32 * 1024 * 1024))

    assert load_model_config(path).name == "huge"


def test_a_few_aliases_are_fine(tmp_path):
    path = tmp_path / "shared.yaml"
    path.write_text(with_params("shared", "common: &common {tol: 0.001}\nagain: *common\n"))

    assert load_model_config(path).estimator.params["again"] == {"tol": 0.001}


def test_a_recursive_alias_is_refused(tmp_path):
    path = tmp_path / "loop.yaml"
    path.write_text(with_params("loop", "loop: &loop [*loop]\n"))

    with pytest.raises(ConfigError, match=r"line \d+: alias \*loop refers to itself"):
        load_model_config(path)
