"""Each command imports only the libraries it needs; ``--help`` imports none of them.

Every case runs the real command in a fresh interpreter, on the demo's data and suite, and
reads which heavy libraries ended up in ``sys.modules``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DATA = str(REPO / "demo" / "data" / "customers.csv")
SUITE = str(REPO / "expectations" / "churn.json")
CONFIG = str(REPO / "dags" / "models" / "churn.yaml")
HEAVY = ("pandas", "sklearn", "mlflow", "great_expectations", "evidently", "airflow")
# Runs the command, then writes the heavy libraries it loaded to the file named first.
PROBE = f"""
import atexit, json, sys
out, argv = sys.argv[1], sys.argv[2:]
heavy = {HEAVY!r}
atexit.register(lambda: open(out, "w").write(json.dumps(sorted(
    name for name in heavy if name in sys.modules))))
from airflow_mlops.cli.main import main
sys.exit(main(argv))
"""


def loaded(tmp_path: Path, *argv: str) -> tuple[int, set[str], str]:
    """(exit code, heavy libraries imported, stderr) of ``airflow-mlops ARGV``."""
    out = tmp_path / "modules.json"
    done = subprocess.run([sys.executable, "-c", PROBE, str(out), *argv], cwd=REPO,
                          capture_output=True, text=True)
    return done.returncode, set(json.loads(out.read_text())), done.stderr


@pytest.mark.parametrize("command", [
    [], ["validate"], ["suite", "init"], ["config", "check"], ["drift"],
    *(["models", action] for action in ("status", "history", "rollback", "trust", "card",
                                        "reproduce")),
])
def test_help_imports_no_heavy_library(tmp_path, command):
    code, modules, _ = loaded(tmp_path, *command, "--help")
    assert code == 0
    assert modules == set()


def test_validate_imports_gx_but_not_evidently_mlflow_sklearn_or_airflow(tmp_path):
    code, modules, err = loaded(tmp_path, "validate", DATA, "--suite", SUITE)
    assert code == 0, err
    # the negative control: the probe sees what the command does import
    assert {"great_expectations", "pandas"} <= modules
    assert modules.isdisjoint({"evidently", "mlflow", "sklearn", "airflow"})


def test_suite_init_imports_no_mlflow(tmp_path):
    code, modules, err = loaded(tmp_path, "suite", "init", DATA, "--out",
                                str(tmp_path / "customers.json"))
    assert code == 0, err
    assert "great_expectations" in modules
    assert modules.isdisjoint({"mlflow", "evidently", "sklearn", "airflow"})


def test_models_imports_mlflow_only(tmp_path, tracking_uri):
    code, modules, err = loaded(tmp_path, "models", "status", "churn", "--tracking-uri",
                                tracking_uri)
    assert (code, err.strip()) == (2, "error: model 'churn' is not registered")
    assert "mlflow" in modules
    assert modules.isdisjoint({"great_expectations", "evidently", "sklearn", "airflow"})


@pytest.mark.parametrize("options", [[], ["--config", CONFIG]])
def test_drift_imports_no_gx_mlflow_or_airflow(tmp_path, options):
    code, modules, err = loaded(tmp_path, "drift", DATA, DATA, *options)
    assert code == 0, err
    assert "evidently" in modules
    assert modules.isdisjoint({"great_expectations", "mlflow", "airflow"})


def test_config_check_imports_no_mlflow_or_evidently(tmp_path):
    code, modules, err = loaded(tmp_path, "config", "check", CONFIG)
    assert code == 0, err
    assert {"sklearn", "great_expectations", "airflow"} <= modules
    assert modules.isdisjoint({"mlflow", "evidently"})


@pytest.mark.parametrize(("module", "uses"), [
    ("common", set()), ("config", {"common"}), ("drift", {"common"}), ("errors", set()),
    ("models", {"common"}), ("sql", set()), ("suite", {"common"}),
    ("validate", {"common", "sql"}),
])
def test_a_command_module_imports_no_other_command(module, uses):
    code = (f"import json, sys, airflow_mlops.cli.{module}; print(json.dumps([name.rsplit('.')[-1]"
            " for name in sys.modules if name.startswith('airflow_mlops.cli.')]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert set(json.loads(done.stdout)) == {module, *uses}
