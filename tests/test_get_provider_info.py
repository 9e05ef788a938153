"""The package registers itself as an Airflow provider through its entry point."""

from __future__ import annotations

import importlib
import subprocess
import sys
from importlib.metadata import entry_points, version

from airflow_mlops import __version__
from airflow_mlops.get_provider_info import get_provider_info


def test_entry_point_resolves_to_provider_info():
    (entry,) = [e for e in entry_points(group="apache_airflow_provider")
                if e.value.startswith("airflow_mlops")]
    assert entry.load() is get_provider_info


def test_package_name_and_version_match_the_distribution():
    info = get_provider_info()
    assert info["package-name"] == "airflow-mlops"
    assert info["versions"][0] == __version__ == version("airflow-mlops")


def test_every_declared_module_imports():
    info = get_provider_info()
    modules = [m for kind in ("hooks", "operators", "sensors", "triggers")
               for group in info.get(kind, []) for m in group["python-modules"]]
    modules += [c["hook-class-name"].rsplit(".", 1)[0] for c in info["connection-types"]]
    modules += [link.rsplit(".", 1)[0] for link in info.get("extra-links", [])]
    for module in modules:
        importlib.import_module(module)


def test_mlflow_connection_form_fields_are_declared():
    (connection,) = info_connections = get_provider_info()["connection-types"]
    assert len(info_connections) == 1
    assert connection["connection-type"] == "mlflow"
    assert {"registry_uri", "artifact_location", "ui_base_url"} <= set(connection["conn-fields"])
    assert connection["ui-field-behaviour"]["relabeling"]["host"] == "Tracking URI"


def test_airflow_lists_the_provider():
    result = subprocess.run(
        [sys.executable, "-m", "airflow", "providers", "list", "--output", "json"],
        capture_output=True, text=True, check=True,
    )
    assert '"package_name": "airflow-mlops"' in result.stdout
    assert __version__ in result.stdout


def test_every_extra_link_of_the_operators_is_declared():
    from airflow.sdk import BaseOperator

    info = get_provider_info()
    declared = set(info["extra-links"])
    modules = [m for group in info["operators"] for m in group["python-modules"]]
    used = {f"{type(link).__module__}.{type(link).__qualname__}"
            for module in map(importlib.import_module, modules)
            for value in vars(module).values()
            if isinstance(value, type) and issubclass(value, BaseOperator)
            for link in value.operator_extra_links}
    assert len(used) >= 9
    assert used <= declared
