"""A config names code only in allowed modules, checked before anything is imported."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from airflow_mlops.cli.config import check

REPO = Path(__file__).resolve().parents[2]
MODULE = "team_side_effects"
PROBE = """\
import pathlib

pathlib.Path(__file__).with_name("marker").write_text("imported")


def cost(y_true, y_pred):
    return 0.0


def one_argument(y_true):
    return 0.0


class Model:
    pass


class Notifier:
    pass
"""


def churn_config(**changes) -> dict:
    config = yaml.safe_load((REPO / "dags" / "models" / "churn.yaml").read_text())
    return {**config, "suite": str(REPO / "expectations" / "churn.json"), **changes}


def config_naming(field: str, path: str) -> dict:
    if field == "estimator.class":
        return churn_config(estimator={"class": path})
    if field == "promotion.custom_metrics.cost.function":
        promotion = churn_config()["promotion"]
        promotion["custom_metrics"] = {"cost": {"function": path, "greater_is_better": False}}
        return churn_config(promotion=promotion)
    return churn_config(alerts={"on_failure": [{"notifier": path}]})


FIELDS = {
    "estimator.class": f"{MODULE}.Model",
    "promotion.custom_metrics.cost.function": f"{MODULE}.cost",
    "alerts.on_failure.0.notifier": f"{MODULE}.Notifier",
}


@pytest.fixture
def probe(tmp_path, monkeypatch) -> Path:
    """A module outside the allowed prefixes whose import writes ``marker`` next to it."""
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / f"{MODULE}.py").write_text(PROBE)
    monkeypatch.syspath_prepend(str(tmp_path / "code"))
    monkeypatch.setenv("AIRFLOW_MLOPS_DATA_ROOT", str(tmp_path / "data"))
    monkeypatch.delitem(sys.modules, MODULE, raising=False)
    yield tmp_path / "code" / "marker"
    sys.modules.pop(MODULE, None)


def checked(folder: Path, config: dict) -> str:
    path = folder / "churn.yaml"
    path.write_text(yaml.safe_dump(config))
    code, lines = check([path])
    assert code == (0 if lines[0].startswith("ok") else 1)
    return "\n".join(lines)


@pytest.mark.parametrize("field", FIELDS)
def test_a_module_outside_the_list_is_refused_unimported(probe, tmp_path, field):
    out = checked(tmp_path, config_naming(field, FIELDS[field]))

    assert f"field '{field}' (line" in out or f"field '{field}':" in out
    assert f"'{FIELDS[field]}' is not in an allowed module" in out
    assert not probe.exists()
    assert MODULE not in sys.modules


@pytest.mark.parametrize("field", FIELDS)
def test_negative_control_the_team_setting_lets_the_import_run(probe, tmp_path, field,
                                                               monkeypatch):
    monkeypatch.setenv("AIRFLOW_MLOPS_IMPORT_PREFIXES", MODULE)

    out = checked(tmp_path, config_naming(field, FIELDS[field]))

    assert probe.exists()  # the import that the allow-list kept from running
    assert "is not in an allowed module" not in out  # a class is then refused as no estimator


@pytest.mark.parametrize("function", ["os.system", "builtins.eval", "subprocess.run"])
def test_a_builtin_or_library_callable_is_no_metric(tmp_path, function, probe):
    field = "promotion.custom_metrics.cost.function"

    out = checked(tmp_path, config_naming(field, function))

    assert out.startswith("FAIL")
    assert f"field '{field}' (line" in out
    assert f"'{function}' is not in an allowed module" in out


@pytest.mark.parametrize("function, reason", [
    ("os.system", "not a Python function taking (y_true, y_pred)"),
    (f"{MODULE}.Model", "not a Python function taking (y_true, y_pred)"),
    (f"{MODULE}.one_argument", "not a Python function taking (y_true, y_pred)"),
])
def test_a_custom_metric_must_be_a_function_of_truth_and_predictions(tmp_path, probe,
                                                                     monkeypatch, function,
                                                                     reason):
    monkeypatch.setenv("AIRFLOW_MLOPS_IMPORT_PREFIXES", f"os,posix,{MODULE}")

    out = checked(tmp_path, config_naming("promotion.custom_metrics.cost.function", function))

    assert f"'{function}' is {reason}" in out


def test_negative_control_an_allowed_function_metric_passes(tmp_path, probe, monkeypatch):
    monkeypatch.setenv("AIRFLOW_MLOPS_IMPORT_PREFIXES", MODULE)
    path = tmp_path / "churn.yaml"
    path.write_text(yaml.safe_dump(
        config_naming("promotion.custom_metrics.cost.function", f"{MODULE}.cost")))

    code, lines = check([path])

    assert code == 0, lines
