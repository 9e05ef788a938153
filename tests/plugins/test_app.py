"""The plugin's app mounted on Airflow's own api-server app: content, reports and auth."""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import quote

import pytest

from airflow_mlops.core.reports import REPORT_FILE
from airflow_mlops.plugins.app import STATES
from airflow_mlops.plugins.reports import REPORTS_XCOM_KEY
from airflow_mlops.plugins.urls import URL_PREFIX

REPO = Path(__file__).resolve().parents[2]
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def airflow_app(nights):
    """Airflow's api-server app with the plugin's app mounted as on the api-server."""
    from airflow import plugins_manager
    from airflow.api_fastapi.app import create_app

    from airflow_mlops.plugins.models_page import api_app

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(plugins_manager, "get_fastapi_plugins", lambda: ([api_app()], []))
        yield create_app()


@pytest.fixture
def anonymous(airflow_app):
    from fastapi.testclient import TestClient

    STATES.clear()
    return TestClient(airflow_app)


@pytest.fixture
def signed_in(anonymous):
    """A client carrying a valid JWT of a simple-auth-manager viewer, as the UI's cookie."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    token = get_auth_manager().generate_jwt(SimpleAuthManagerUser(username="ada", role="viewer"))
    anonymous.cookies.set("_token", token)
    return anonymous


def report_url(nights, run_id: str, task_id: str, name: str) -> str:
    return (f"{URL_PREFIX}/api/reports?dag_id={nights.dag_id}&run_id={quote(run_id)}"
            f"&task_id={task_id}&name={quote(name)}")


def urls(nights) -> list[str]:
    return [f"{URL_PREFIX}/models", f"{URL_PREFIX}/api/models", f"{URL_PREFIX}/static/page.js",
            report_url(nights, nights.blocked, "validate", REPORT_FILE),
            f"{URL_PREFIX}/api/chart?model=churn&version=1"]


def test_every_route_refuses_a_request_without_a_valid_session(anonymous, signed_in, nights):
    from fastapi.testclient import TestClient

    for url in urls(nights):
        bare = TestClient(anonymous.app)
        assert bare.get(url).status_code == 401, url
        forged = bare.get(url, headers={"Authorization": "Bearer not-a-token"})
        assert forged.status_code == 403, url
        bare.cookies.set("_token", "eyJhbGciOiJub25lIn0.e30.")
        assert bare.get(url).status_code == 403, url
        # The same request with a real session is answered.
        assert signed_in.get(url).status_code == 200, (url, signed_in.get(url).text[:300])


def test_routes_are_read_only(signed_in, nights):
    for url in urls(nights):
        assert signed_in.post(url).status_code == 405, url
        assert signed_in.delete(url).status_code == 405, url


def test_models_show_champion_nights_and_ledger(signed_in, nights):
    from mlflow import MlflowClient

    from airflow_mlops.core.registry import CHAMPION, alias_version

    (model,) = [m for m in signed_in.get(f"{URL_PREFIX}/api/models").json()["models"]
                if m["name"] == "churn"]
    champion = alias_version(MlflowClient(nights.tracking_uri, nights.tracking_uri), "churn",
                             CHAMPION)
    assert model["aliases"]["champion"] == champion
    nights_by_run = {n["run_id"]: n for n in model["nights"]}
    promoted, compared, blocked = (nights_by_run[r] for r in
                                   (nights.promoted, nights.compared, nights.blocked))
    assert promoted["outcome"] == "v1 promoted"
    assert promoted["validation"] == "passed (1500 rows)"
    assert compared["outcome"] in {"v2 promoted", "v2 rejected"}
    assert compared["reasons"], "a compared night says why"
    assert blocked["outcome"] == "blocked: validate"
    assert blocked["validation"].startswith("failed (")
    moves = [(e["alias"], e["from_version"], e["to_version"]) for e in model["ledger"]]
    assert ("champion", None, "1") in moves


def test_page_links_each_night_to_its_dag_run(signed_in, nights):
    response = signed_in.get(f"{URL_PREFIX}/models")

    html = response.text
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src 'self';" in policy, "no inline script"
    assert "champion v" in html
    for run_id in (nights.promoted, nights.compared, nights.blocked):
        assert f'href="/dags/{nights.dag_id}/runs/{quote(run_id, safe="")}"' in html
    assert "v1 promoted" in html and "blocked: validate" in html
    assert 'href="/required_actions"' in html


def test_page_escapes_what_configs_carry(signed_in, tmp_path, monkeypatch):
    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copy(REPO / "dags" / "models" / "churn.yaml", folder / "churn.yaml")
    (folder / "<img src=x onerror=alert(1)>.yaml").write_text("name: [not, a, name]\n")
    monkeypatch.setenv("AIRFLOW__MLOPS__CONFIGS_FOLDER", str(folder))

    html = signed_in.get(f"{URL_PREFIX}/models").text

    assert "&lt;img src=x onerror=alert(1)&gt;.yaml" in html
    assert "<img src=x" not in html
    assert 'id="model-churn"' in html, "a broken config hides no other model"


def test_report_is_served_sandboxed(signed_in, nights):
    response = signed_in.get(report_url(nights, nights.blocked, "validate", REPORT_FILE))

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"] == "sandbox"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "<h1>" in response.text and "failed" in response.text.lower()


def test_report_names_come_from_the_task_never_from_the_request(signed_in, nights):
    for name in ("../../../../etc/passwd", "validation_result.json/../../x", "/etc/passwd"):
        response = signed_in.get(report_url(nights, nights.blocked, "validate", name))
        assert response.status_code == 404, name
    unknown_task = signed_in.get(report_url(nights, nights.blocked, "train", REPORT_FILE))
    assert unknown_task.status_code == 404


def test_stored_locations_outside_the_results_base_are_refused(signed_in, nights):
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    inside = nights.results_base / "validation" / nights.dag_id / "by-hand" / "inside.html"
    inside.parent.mkdir(parents=True, exist_ok=True)
    inside.write_text("<h1>inside</h1>")
    reports = {
        "inside.html": str(inside),
        "outside.html": "/etc/passwd",
        "climbing.html": str(nights.results_base / ".." / "mlflow.db"),
        "artifact.html": "runs:/0123/../../secret",
    }
    with create_session() as session:
        XComModel.set(REPORTS_XCOM_KEY, reports, dag_id=nights.dag_id, task_id="summary",
                      run_id=nights.compared, session=session)

    def get(name):
        return signed_in.get(report_url(nights, nights.compared, "summary", name))

    assert get("inside.html").text == "<h1>inside</h1>"  # the control: the lookup works
    for name in ("outside.html", "climbing.html", "artifact.html"):
        response = get(name)
        assert response.status_code == 400, name
        assert "refusing" in response.json()["detail"]


def test_comparison_chart_comes_from_the_versions_run(signed_in):
    response = signed_in.get(f"{URL_PREFIX}/api/chart?model=churn&version=2")

    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.content.startswith(PNG)
    assert signed_in.get(f"{URL_PREFIX}/api/chart?model=churn&version=9").status_code == 404
    assert signed_in.get(f"{URL_PREFIX}/api/chart?model=churn&version=../1").status_code == 422


@pytest.fixture
def waiting_approval(nights):
    """The compared night's ``approve`` task waiting for a human, as the HITL operator leaves
    it: an unanswered request row and the task ``awaiting_input``; put back afterwards."""
    from airflow.models.hitl import HITLDetail
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        ti = session.query(TaskInstance).filter_by(dag_id=nights.dag_id, run_id=nights.compared,
                                                   task_id="approve").one()
        state, ti.state = ti.state, "awaiting_input"
        session.add(HITLDetail(ti_id=ti.id, options=["Approve", "Reject"],
                               subject="Promote churn v2 to champion?", params={}))
    yield
    with create_session() as session:
        ti = session.query(TaskInstance).filter_by(dag_id=nights.dag_id, run_id=nights.compared,
                                                   task_id="approve").one()
        session.query(HITLDetail).filter_by(ti_id=ti.id).delete()
        ti.state = state


def test_pending_approvals_link_to_required_actions(signed_in, nights, waiting_approval):
    html = signed_in.get(f"{URL_PREFIX}/models").text
    (model,) = [m for m in signed_in.get(f"{URL_PREFIX}/api/models").json()["models"]
                if m["name"] == "churn"]

    run_page = f"/dags/{nights.dag_id}/runs/{quote(nights.compared, safe='')}"
    assert f'href="{run_page}/required_actions">Promote churn v2 to champion?</a>' in html
    assert "1 awaiting approval" in html
    assert model["approvals"] == [{"run_id": nights.compared, "task_id": "approve",
                                   "subject": "Promote churn v2 to champion?"}]
    compared = next(n for n in model["nights"] if n["run_id"] == nights.compared)
    assert compared["outcome"] == "v2 awaiting approval"


def churn(client) -> dict:
    (model,) = [m for m in client.get(f"{URL_PREFIX}/api/models").json()["models"]
                if m["name"] == "churn"]
    return model


@pytest.fixture
def lapsing(monkeypatch):
    """Every state of the page's snapshot lapses at once (a lifetime of zero seconds)."""
    monkeypatch.setattr(STATES, "ttl", 0.0)
    yield
    assert STATES.wait_idle(60)


def test_a_lapsed_snapshot_is_served_while_it_is_read_again(signed_in, nights, lapsing,
                                                          monkeypatch):
    import threading
    from contextlib import contextmanager

    read = churn(signed_in)
    gate, waiting, real_connect = threading.Event(), threading.Event(), STATES.connect

    @contextmanager
    def slow(conn_id):
        waiting.set()
        assert gate.wait(60)
        with real_connect(conn_id) as client:
            yield client

    monkeypatch.setattr(STATES, "connect", slow)
    served = [churn(signed_in) for _ in range(3)]
    assert waiting.wait(60)

    assert all(m["read_at"] == read["read_at"] for m in served), "the last snapshot, at once"
    assert all(m["aliases"] == read["aliases"] for m in served)
    gate.set()
    assert STATES.wait_idle(60)
    assert churn(signed_in)["read_at"] > read["read_at"]


def test_a_failed_refresh_keeps_the_champion_and_the_page_says_so(signed_in, nights, lapsing,
                                                                  monkeypatch):
    read = churn(signed_in)
    monkeypatch.setenv("AIRFLOW_CONN_MLFLOW_DEFAULT", '{"conn_type": "mlflow", "host": ""}')
    churn(signed_in)  # starts the refresh that fails
    assert STATES.wait_idle(60)

    kept = churn(signed_in)
    html = signed_in.get(f"{URL_PREFIX}/models").text

    assert kept["aliases"] == read["aliases"] and kept["error"] is None
    assert kept["read_at"] == read["read_at"]
    assert "host (the tracking URI) is empty" in kept["refresh_error"]
    assert "the latest refresh failed" in html and "host (the tracking URI) is empty" in html
    assert f"champion v{read['aliases']['champion']}" in html


def test_a_model_registered_after_the_snapshot_appears_at_the_next_request(
        signed_in, nights, tmp_path, monkeypatch):
    from mlflow import MlflowClient

    from airflow_mlops.core import registry

    folder = tmp_path / "models"
    folder.mkdir()
    text = (REPO / "dags" / "models" / "churn.yaml").read_text()
    (folder / "churn.yaml").write_text(text)
    (folder / "fresh.yaml").write_text(text.replace("name: churn", "name: fresh"))
    monkeypatch.setenv("AIRFLOW__MLOPS__CONFIGS_FOLDER", str(folder))
    monkeypatch.setattr("airflow_mlops.plugins.app._permitted",
                        lambda user, session: {"nightly_retrain_churn", "nightly_retrain_fresh"})
    STATES.warm([("mlflow_default", "fresh", "airflow-mlops/fresh")])
    assert STATES.wait_idle(60)
    assert 'id="model-fresh"' in (html := signed_in.get(f"{URL_PREFIX}/models").text)
    assert "Not registered in MLflow yet." in html

    client = MlflowClient(nights.tracking_uri, nights.tracking_uri)
    client.create_registered_model("fresh")
    try:
        client.create_model_version("fresh", "file:///nowhere/fresh/1")
        client.set_registered_model_alias("fresh", registry.CHAMPION, "1")
        html = signed_in.get(f"{URL_PREFIX}/models").text
        section = html[html.index('id="model-fresh"'):]
        assert "champion v1" in section.split("</section>")[0]
    finally:
        client.delete_registered_model("fresh")


def test_the_champion_links_to_its_model_card(signed_in, nights):
    from mlflow import MlflowClient

    from airflow_mlops.core.model_card import CARD_TAG
    from airflow_mlops.core.registry import tag

    model = churn(signed_in)
    champion = model["aliases"]["champion"]
    html = signed_in.get(f"{URL_PREFIX}/models").text
    link = f"{URL_PREFIX}/api/model-card?model=churn&version={champion}"

    assert model["model_card"] is True
    assert f'href="{link.replace("&", "&amp;")}"' in html
    card = signed_in.get(link)
    assert card.status_code == 200 and card.headers["content-type"].startswith("text/html")
    assert f"churn v{champion}" in card.text
    assert card.headers["content-security-policy"] == "sandbox"

    client = MlflowClient(nights.tracking_uri, nights.tracking_uri)
    uri = client.get_model_version("churn", champion).tags[tag(CARD_TAG)]
    client.delete_model_version_tag("churn", champion, tag(CARD_TAG))
    try:
        STATES.clear()
        assert "model-card" not in signed_in.get(f"{URL_PREFIX}/models").text
        assert churn(signed_in)["model_card"] is False
        assert signed_in.get(link).status_code == 404
    finally:
        client.set_model_version_tag("churn", champion, tag(CARD_TAG), uri)
