"""The plugin as Airflow finds it: its entry point, its nav entry, and where it builds its app."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys

from airflow_mlops.plugins.models_page import ModelsPagePlugin


def test_the_installed_provider_registers_the_plugin():
    (entry,) = [e for e in importlib.metadata.entry_points(group="airflow.plugins")
                if e.name == "mlops"]

    assert entry.load() is ModelsPagePlugin
    (view,) = ModelsPagePlugin.external_views
    assert view["name"] == "Models"
    assert view["href"] == "/mlops/models"
    assert view["destination"] == "nav"


def test_only_the_api_server_builds_the_app():
    probe = ("import sys; sys.argv = [sys.argv[0], {argv!r}];"
             "from airflow_mlops.plugins.models_page import ModelsPagePlugin as P;"
             "print(len(P.fastapi_apps), 'fastapi' in sys.modules)")

    def run(argv: str) -> str:
        return subprocess.run([sys.executable, "-c", probe.format(argv=argv)], check=True,
                              capture_output=True, text=True).stdout.split()[-2:]

    assert run("api-server") == ["1", "True"]
    assert run("scheduler") == ["0", "False"], "a task or the scheduler imports no FastAPI"
