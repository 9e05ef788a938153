"""Which note the listener writes on a finished DAG run, from its XComs and failed tasks."""

from __future__ import annotations

import subprocess
import sys

from airflow_mlops.listeners.night_note import night_note

LINKS = {"Report": "https://airflow.example.com/mlops/api/reports?name=r"}


def test_the_summary_note_wins():
    xcoms = {("summary", "return_value"): {"note": "v7 promoted: roc_auc 0.812 vs 0.791 (v6)"},
             ("validate", "mlops_links"): LINKS}
    assert night_note(xcoms, []) == "v7 promoted: roc_auc 0.812 vs 0.791 (v6)"


def test_a_run_stopped_by_validation_is_blocked():
    xcoms = {("validate", "return_value"): {"success": False, "failed": 3},
             ("validate", "mlops_links"): LINKS}
    assert night_note(xcoms, ["validate"]) == "blocked: validation, 3 checks failed"
    # a warning (validate succeeded) that later failed elsewhere is not "blocked"
    assert night_note(xcoms, ["smoke_check"]) == "failed at smoke_check"


def test_runs_of_other_dags_get_no_note():
    assert night_note({("extract", "return_value"): {"rows": 3}}, ["load"]) is None
    assert night_note({("validate", "mlops_links"): LINKS}, []) is None  # nothing to say


def test_the_plugin_registers_the_listener():
    code = ("from airflow import plugins_manager as p; p.ensure_plugins_loaded(); "
            "print([x.name for x in p._get_plugins()[0]])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert "airflow_mlops_night_note" in out
