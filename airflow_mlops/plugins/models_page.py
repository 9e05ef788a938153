"""The Models page plugin: registered through the ``airflow.plugins`` entry point.

Installing the provider is enough: the api-server mounts the app at ``/mlops`` and the UI's
navigation gains a "Models" entry that shows the page inside Airflow. Every Airflow component
loads plugins; only the api-server builds the app (as the edge3 provider's plugin does), so a
task or the scheduler does not import FastAPI and the API's security layer for nothing.
"""

from __future__ import annotations

import sys

from airflow.plugins_manager import AirflowPlugin

from airflow_mlops.plugins.urls import URL_PREFIX, ui_root

RUNNING_ON_API_SERVER = len(sys.argv) > 1 and sys.argv[1] == "api-server"


def api_app() -> dict:
    """The plugin's FastAPI app, as ``fastapi_apps`` lists it."""
    from airflow_mlops.plugins.app import create_app

    return {"app": create_app(), "url_prefix": URL_PREFIX, "name": "airflow-mlops Models page"}


class ModelsPagePlugin(AirflowPlugin):
    """The Models page (nav entry "Models") and the report endpoint, on the api-server."""

    name = "mlops"
    external_views = [{"name": "Models", "href": f"{ui_root()}{URL_PREFIX}/models",
                       "destination": "nav", "category": "browse",
                       "url_route": "mlops-models"}]
    if RUNNING_ON_API_SERVER:
        fastapi_apps = [api_app()]
