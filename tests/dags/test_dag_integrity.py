"""Every file in dags/ parses cleanly and fast: no import errors, no heavy imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DAG_FILES = sorted((REPO / "dags").glob("*.py"))
HEAVY_MODULES = ("pandas", "sklearn", "mlflow", "great_expectations", "evidently", "pyarrow")

# Parsed as the DAG processor does: a DagBag of the one file, in a fresh interpreter.
PARSE_IN_FRESH_INTERPRETER = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
heavy = [m for m in sys.argv[2].split(",") if m in sys.modules]
print(json.dumps({"dags": bag.dag_ids, "errors": bag.import_errors, "heavy": heavy}))
"""


def test_dags_folder_has_templates():
    assert DAG_FILES, "dags/ holds no DAG files"


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=lambda p: p.name)
def test_dag_file_parses_without_heavy_imports(dag_file: Path, tmp_path: Path):
    env = {**os.environ, "AIRFLOW_MLOPS_DATA_ROOT": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", PARSE_IN_FRESH_INTERPRETER, str(dag_file), ",".join(HEAVY_MODULES)],
        capture_output=True, text=True, env=env, check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    parsed = json.loads(result.stdout.strip().splitlines()[-1])
    assert parsed["errors"] == {}
    assert parsed["dags"], f"{dag_file.name} defines no DAG"
    assert parsed["heavy"] == [], f"{dag_file.name} imports {parsed['heavy']} at parse time"


def test_dagbag_has_no_import_errors(tmp_path: Path, monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("AIRFLOW_MLOPS_DATA_ROOT", str(tmp_path))
    bag = DagBag(dag_folder=str(REPO / "dags"))
    assert bag.import_errors == {}
    assert {"nightly_retrain_churn", "drift_monitor_churn"} <= set(bag.dag_ids)
