"""The Models page in a real browser: Debian's chromium driven by Playwright, signed in through
Airflow's login form on a real ``airflow api-server`` over the test metadata DB."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote, unquote

import pytest

from airflow_mlops.core.reports import REPORT_FILE

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(os.environ.get("MLOPS_SCREENSHOTS", REPO / ".screenshots"))
USER = "admin"

pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_healthy(url: str, process: subprocess.Popen, log: Path, timeout: float = 180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"airflow api-server exited {process.returncode}:\n"
                        f"{log.read_text()[-3000:]}")
        try:
            urllib.request.urlopen(url + "/api/v2/monitor/health", timeout=2)
            return
        except OSError:
            time.sleep(1)
    pytest.fail(f"airflow api-server not up after {timeout:.0f}s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def api_server(nights, tmp_path_factory):
    """``airflow api-server`` on the tests' metadata DB; the simple auth manager knows
    user ``admin`` with a password of this run. Yields (base URL, password)."""
    home = tmp_path_factory.mktemp("api-server")
    password = secrets.token_urlsafe(12)
    passwords = home / "passwords.json"
    passwords.write_text(json.dumps({USER: password}))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API__BASE_URL": base,
        "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(16),
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(48),
    }
    log = home / "api-server.log"
    with log.open("w") as out:
        process = subprocess.Popen([str(Path(sys.executable).parent / "airflow"), "api-server"],
                                   env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until_healthy(base, process, log)
        yield base, password
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture
def signed_in(api_server, browser, tmp_path):
    """A page signed in through Airflow's login form; ``shot(name)`` saves a screenshot
    (into ``$MLOPS_SCREENSHOTS`` when set: that is how docs/img is made)."""
    base, password = api_server
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    page.goto(base + "/")
    page.get_by_label("Username").fill(USER)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(base + "/")
    folder = Path(os.environ.get("MLOPS_SCREENSHOTS") or tmp_path)

    def shot(name: str) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / name))
        return folder / name

    yield page, shot
    context.close()


def test_models_page_from_the_nav_shows_champion_and_nights(signed_in, api_server, nights):
    from mlflow import MlflowClient

    from airflow_mlops.core.registry import CHAMPION, alias_version

    base, _ = api_server
    page, shot = signed_in
    champion = alias_version(MlflowClient(nights.tracking_uri, nights.tracking_uri), "churn",
                             CHAMPION)

    page.get_by_role("button", name="Browse").click()
    page.get_by_role("menuitem", name="Models").click()
    page.wait_for_url(base + "/plugin/mlops-models")
    frame = page.frame_locator("iframe")
    model = frame.locator("#model-churn")
    model.wait_for()
    frame.locator("#model-churn img").evaluate("img => img.decode()")
    path = shot("models-page.png")

    assert path.stat().st_size > 10_000
    assert f"champion v{champion}" in model.locator(".head").inner_text()
    rows = {row.locator("td.run").inner_text(): row.inner_text()
            for row in model.locator("h3:text('Last nights') + table tbody tr").all()}
    assert "v1 promoted" in rows[nights.promoted]
    assert "blocked: validate" in rows[nights.blocked]
    assert "failed (1 check)" in rows[nights.blocked]
    assert frame.locator("#model-churn img").evaluate("img => img.naturalWidth") > 100

    model.get_by_role("link", name=nights.blocked).first.click()
    run_page = f"{base}/dags/{nights.dag_id}/runs/{nights.blocked}"
    page.wait_for_url(lambda url: unquote(url).startswith(run_page))


def test_report_endpoint_serves_the_report_without_script_rights(signed_in, api_server,
                                                                  nights):
    base, _ = api_server
    page, _ = signed_in
    url = (f"{base}/mlops/api/reports?dag_id={nights.dag_id}&run_id={quote(nights.blocked)}"
           f"&task_id=validate&name={REPORT_FILE}")

    response = page.goto(url)

    assert response.status == 200
    assert response.headers["content-security-policy"] == "sandbox"
    assert "failed" in page.locator("h1").inner_text().lower()
    assert "tenure_months" in page.content()
    # Sandboxed: the report runs in an opaque origin, not Airflow's (where the session is).
    assert page.evaluate("window.origin") == "null"
    page.goto(base + "/mlops/models")
    assert page.evaluate("window.origin") == base, "the control: the page itself is not"


def test_report_endpoint_refuses_the_browser_without_a_session(browser, api_server, nights):
    base, _ = api_server
    context = browser.new_context()
    response = context.new_page().goto(
        f"{base}/mlops/api/reports?dag_id={nights.dag_id}&run_id={quote(nights.blocked)}"
        f"&task_id=validate&name={REPORT_FILE}")
    assert response.status == 401
    context.close()

