"""The plugin's FastAPI app on the api-server: the Models page, its chart and the reports.

Every route is GET and needs a signed-in Airflow user (the UI's session cookie or a bearer
token), checked with Airflow's own auth manager: FastAPI apps of plugins are not protected by
Airflow on their own. A user sees the models whose retrain DAG they may read, and a report or
chart of a DAG they may read.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails
from airflow.api_fastapi.common.db.common import SessionDep
from airflow.api_fastapi.core_api.security import GetUserDep, requires_access_dag
from fastapi import Depends, FastAPI, HTTPException, Query
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, StreamingResponse
from starlette.background import BackgroundTask

from airflow_mlops.core.errors import PathEscapeError
from airflow_mlops.plugins import overview, page, reports
from airflow_mlops.plugins.registry_state import StateCache
from airflow_mlops.plugins.urls import URL_PREFIX, ui_root

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion

DEFAULT_CONN_ID = "mlflow_default"
CHUNK = 1 << 16
PAGE_POLICY = ("default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; "
               "script-src 'self'; frame-ancestors 'self'; base-uri 'none'; form-action 'none'")
SCRIPT = Path(__file__).parent / "static" / "page.js"
# A report may hold any text a data set or a model carried: it must not run script in the
# Airflow origin, nor be sniffed into another type.
REPORT_HEADERS = {"Content-Security-Policy": "sandbox", "X-Content-Type-Options": "nosniff",
                  "Cache-Control": "private, no-store"}
# MLflow reads the tracking URI and credentials from the process: one connection at a time.
MLFLOW_LOCK = threading.RLock()


@contextmanager
def mlflow_client(conn_id: str) -> Iterator[MlflowClient]:
    """A client of connection ``conn_id``, used inside the block only."""
    from mlflow import MlflowClient

    from airflow_mlops.hooks.mlflow import MlflowHook

    with MLFLOW_LOCK, MlflowHook(mlflow_conn_id=conn_id).session():
        yield MlflowClient()


STATES = StateCache(mlflow_client)
CONFIGS = overview.ConfigCache()


def _permitted(user, session) -> set[str]:
    from airflow.api_fastapi.app import get_auth_manager

    return get_auth_manager().get_authorized_dag_ids(user=user, method="GET", session=session)


def _require_dag(user, dag_id: str) -> None:
    from airflow.api_fastapi.app import get_auth_manager

    if not get_auth_manager().is_authorized_dag(method="GET", details=DagDetails(id=dag_id),
                                               user=user):
        raise HTTPException(403, "Forbidden")


def _gather(user, session):
    configs = CONFIGS.load(overview.configs_folder())
    return overview.gather(session, configs, STATES, permitted=_permitted(user, session))


def _conn_for(model: str) -> str:
    configs = CONFIGS.load(overview.configs_folder())
    return next((c.mlflow_conn_id for c in configs
                 if isinstance(c, overview.ModelConfig) and c.name == model), DEFAULT_CONN_ID)


def _model_of(dag_id: str) -> str | None:
    from airflow_mlops.templates.drift import DAG_ID_PREFIX as DRIFT
    from airflow_mlops.templates.retrain import DAG_ID_PREFIX as RETRAIN

    configs = CONFIGS.load(overview.configs_folder())
    return next((c.name for c in configs if isinstance(c, overview.ModelConfig)
                 and dag_id in (f"{RETRAIN}_{c.name}", f"{DRIFT}_{c.name}")), None)


def models_page(user: GetUserDep, session: SessionDep) -> HTMLResponse:
    """The Models page."""
    views, broken = _gather(user, session)
    root = ui_root()
    html = page.render(views, broken, ui_root=root, api_root=f"{root}{URL_PREFIX}/api",
                       script=f"{root}{URL_PREFIX}/static/page.js")
    return HTMLResponse(html, headers={"Content-Security-Policy": PAGE_POLICY,
                                       "Cache-Control": "private, no-store"})


def page_script(user: GetUserDep) -> FileResponse:
    """The page's one script: it hands links to Airflow's pages to the UI's router."""
    return FileResponse(SCRIPT, media_type="text/javascript",
                        headers={"X-Content-Type-Options": "nosniff"})


def models_json(user: GetUserDep, session: SessionDep) -> JSONResponse:
    """What the page shows, as JSON."""
    views, broken = _gather(user, session)
    return JSONResponse({
        "models": [_view_json(view) for view in views],
        "broken_configs": [{"file": b.path.name, "error": b.error} for b in broken],
    })


def _view_json(view: overview.ModelView) -> dict:
    state = view.state
    return {
        "name": view.config.name, "dag_id": view.dag_id, "aliases": state.aliases,
        "registered": state.registered, "error": state.error,
        "read_at": state.read_at and state.read_at.isoformat(),
        "refresh_error": state.refresh_error, "model_card": state.champion_card is not None,
        "drift": None if state.drift is None else vars(state.drift),
        "ledger": [entry.to_dict() for entry in state.ledger],
        "nights": [{"run_id": n.run_id, "date": n.date and n.date.isoformat(),
                    "state": n.state, "note": n.note, "validation": n.validation_verdict,
                    "outcome": n.outcome, "reasons": (n.decision or {}).get("reasons", [])}
                   for n in view.nights],
        "approvals": [{"run_id": a.run_id, "task_id": a.task_id, "subject": a.subject}
                      for a in view.approvals],
    }


def report(
    session: SessionDep,
    dag_id: Annotated[str, Query()],
    run_id: Annotated[str, Query()],
    task_id: Annotated[str, Query()],
    name: Annotated[str, Query()],
    map_index: Annotated[int, Query()] = -1,
):
    """A report the task instance stored, served so that it cannot run script here."""
    try:
        location = reports.checked_location(reports.stored_location(
            session, dag_id=dag_id, run_id=run_id, task_id=task_id, name=name,
            map_index=map_index))
    except reports.UnknownReport as exc:
        raise HTTPException(404, str(exc)) from None
    except PathEscapeError as exc:
        raise HTTPException(400, str(exc)) from None
    headers = {**REPORT_HEADERS, "Content-Disposition": f'inline; filename="{_ascii(name)}"'}
    if location.startswith(reports.MLFLOW_SCHEME):
        return _artifact(_conn_for(_model_of(dag_id) or ""), location, name, headers)
    return _file(location, name, headers)


def _ascii(name: str) -> str:
    return "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_"
                   for c in name)


def _file(location: str, name: str, headers: dict) -> StreamingResponse:
    from airflow_mlops.operators.links import storage_path

    path = storage_path(location)
    try:
        handle = path.open("rb")
    except (FileNotFoundError, IsADirectoryError):
        raise HTTPException(404, f"report '{name}' is no longer stored") from None

    def chunks() -> Iterator[bytes]:
        with handle:
            while block := handle.read(CHUNK):
                yield block

    return StreamingResponse(chunks(), media_type=reports.media_type(name), headers=headers)


def _artifact(conn_id: str, uri: str, name: str, headers: dict) -> FileResponse:
    import mlflow

    folder = tempfile.mkdtemp(prefix="mlops-report-")
    try:
        with mlflow_client(conn_id):
            local = mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=folder)
    except Exception as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise HTTPException(404, f"report '{name}' cannot be read from MLflow: {exc}") from None
    if not Path(local).is_file():
        shutil.rmtree(folder, ignore_errors=True)
        raise HTTPException(404, f"report '{name}' is not a file")
    return FileResponse(local, media_type=reports.media_type(name), headers=headers,
                        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True))


def _readable_version(user: GetUserDep, model: str, version: str) -> tuple[str, ModelVersion]:
    """The MLflow connection of ``model`` and its ``version``, if the user may read its DAG.

    :raises HTTPException: 403 without access to the model's DAG, 404 for an unknown version.
    """
    from airflow_mlops.templates.retrain import DAG_ID_PREFIX

    _require_dag(user, f"{DAG_ID_PREFIX}_{model}")
    conn_id = _conn_for(model)
    try:
        with mlflow_client(conn_id) as client:
            return conn_id, client.get_model_version(model, version)
    except Exception as exc:
        raise HTTPException(404, f"model '{model}' v{version}: {exc}") from None


def chart(user: GetUserDep, model: Annotated[str, Query()],
          version: Annotated[str, Query(pattern=r"^[0-9]+$")]) -> FileResponse:
    """The comparison chart of a version's evaluation, from the version's MLflow run."""
    conn_id, found = _readable_version(user, model, version)
    compared = found.tags.get("airflow_mlops.compared_to", "none")
    if not found.run_id or not (compared == "none" or compared.isdigit()):
        raise HTTPException(404, f"model '{model}' v{version} has no comparison chart")
    from airflow_mlops.core.evaluation import RECORD_FOLDER

    uri = f"runs:/{found.run_id}/{RECORD_FOLDER}/vs-{compared}/comparison.png"
    return _artifact(conn_id, uri, "comparison.png", REPORT_HEADERS)


def model_card(user: GetUserDep, model: Annotated[str, Query()],
               version: Annotated[str, Query(pattern=r"^[0-9]+$")]) -> FileResponse:
    """The model card (HTML) of a version, from the version's MLflow run."""
    from airflow_mlops.core.model_card import CARD_FOLDER, CARD_TAG, HTML_FILE
    from airflow_mlops.core.registry import tag

    conn_id, found = _readable_version(user, model, version)
    if not found.run_id or tag(CARD_TAG) not in found.tags:
        raise HTTPException(404, f"model '{model}' v{version} has no model card")
    uri = f"runs:/{found.run_id}/{CARD_FOLDER}/{HTML_FILE}"
    return _artifact(conn_id, uri, HTML_FILE, REPORT_HEADERS)


def _preload() -> None:
    """Import MLflow and the config models now, not in the first request (seconds), then
    read every model's state into the snapshot the page is served from."""
    import mlflow  # noqa: F401

    configs = CONFIGS.load(overview.configs_folder())
    STATES.warm((c.mlflow_conn_id, c.name, c.experiment_name) for c in configs
                if isinstance(c, overview.ModelConfig))


def create_app() -> FastAPI:
    """The app the plugin mounts at :data:`URL_PREFIX`; MLflow is imported and the models'
    states are read meanwhile (an app mounted in Airflow's gets no lifespan events)."""
    threading.Thread(target=_preload, name="mlops-preload", daemon=True).start()
    app = FastAPI(title="airflow-mlops", description="Models page and reports (read-only)")
    app.add_api_route("/models", models_page, methods=["GET"], response_class=HTMLResponse)
    app.add_api_route("/static/page.js", page_script, methods=["GET"])
    app.add_api_route("/api/models", models_json, methods=["GET"])
    app.add_api_route("/api/reports", report, methods=["GET"], dependencies=[
        Depends(requires_access_dag("GET", DagAccessEntity.TASK_INSTANCE))])
    app.add_api_route("/api/chart", chart, methods=["GET"])
    app.add_api_route("/api/model-card", model_card, methods=["GET"])
    return app
