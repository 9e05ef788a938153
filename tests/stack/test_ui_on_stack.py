"""The Airflow UI on the stack, in Debian's chromium driven by Playwright: the Models page,
every extra link of a promoted, a rejected and a blocked night, and an approval given from
Required Actions.

A link's target must load and show what the link names: the MLflow run (its id), the model
version (its number), the artifact or report (its name), the DAG run (its id).
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse
from pathlib import Path

import pytest

from airflow_mlops.core.registry import CHAMPION, alias_version

pytestmark = pytest.mark.stack

DAG_ID = "nightly_retrain_churn"
GATED = "nightly_retrain_churn_gated"
EVIDENCE_TASKS = ("validate", "train", "evaluate", "smoke_check", "promote", "reject")


def day(d: int) -> dt.datetime:
    return dt.datetime(2026, 8, d, tzinfo=dt.timezone.utc)


@pytest.fixture
def page(browser, stack_env, tmp_path):
    """A page signed in to Airflow through its login form; MLflow's basic auth answered."""
    mlflow = json.loads(stack_env["AIRFLOW_CONN_MLFLOW_DEFAULT"])
    context = browser.new_context(
        viewport={"width": 1440, "height": 1000},
        http_credentials={"username": mlflow["login"], "password": mlflow["password"]})
    signed_in = context.new_page()
    base = stack_env["STACK_API_URL"]
    signed_in.goto(base + "/")
    signed_in.get_by_label("Username").fill(stack_env["STACK_ADMIN_USER"])
    signed_in.get_by_label("Password").fill(stack_env["STACK_ADMIN_PASSWORD"])
    signed_in.get_by_role("button", name="Sign in").click()
    signed_in.wait_for_url(base + "/")
    yield signed_in
    context.close()


def shot(page, name: str) -> None:
    import os

    folder = os.environ.get("MLOPS_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / name))


@pytest.fixture
def three_nights(api, clean_model, land, customers, run_id):
    """A promoted, a rejected (labels shuffled: no skill) and a blocked (corrupted) night."""
    size = len(customers) // 3
    shuffled = customers.iloc[size:2 * size].copy()
    shuffled["churned"] = shuffled["churned"].sample(frac=1, random_state=1).to_numpy()
    corrupted = customers.iloc[2 * size:].copy()
    corrupted.loc[corrupted.index[:25], "tenure_months"] = -1
    runs = {"promoted": run_id("ui-promoted"), "rejected": run_id("ui-rejected"),
            "blocked": run_id("ui-blocked")}
    for d, (frame, rid) in enumerate(zip((customers.iloc[:size], shuffled, corrupted),
                                         runs.values(), strict=True), start=1):
        land(frame, day(d))
        api.trigger(day(d), rid)
    for rid in runs.values():
        api.wait(rid)
    states = {kind: api.task_states(rid) for kind, rid in runs.items()}
    assert states["promoted"]["promote"] == "success", states["promoted"]
    assert states["rejected"]["reject"] == "success", states["rejected"]
    assert states["blocked"]["validate"] == "failed", states["blocked"]
    return runs


def task_links(api, run_id: str, task_id: str, dag_id: str = DAG_ID) -> dict[str, str | None]:
    path = (f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id)}/taskInstances/"
            f"{task_id}/links")
    return api.get(path)["extra_links"]


def expected_text(url: str, run_id: str) -> str:
    """What the target of ``url`` must show: the object the link names."""
    parsed = urllib.parse.urlparse(url)
    fragment = parsed.fragment
    if "/artifacts/" in fragment:
        return fragment.rsplit("/", 1)[-1]
    if "/versions/" in fragment:
        return f"Version {fragment.rsplit('/', 1)[-1]}"
    if "/runs/" in fragment:
        return fragment.split("/runs/", 1)[1].split("/")[0]
    if parsed.path.endswith("/mlops/api/reports"):
        return urllib.parse.parse_qs(parsed.query)["name"][0]
    if "/dags/" in parsed.path:
        return run_id
    raise AssertionError(f"a link of an unknown kind: {url}")


def check_target(page, url: str, run_id: str) -> None:
    page.goto("about:blank")  # a link differing from the last only in its #fragment loads whole
    response = page.goto(url)
    assert response is not None and response.ok, (url, response and response.status)
    page.wait_for_load_state("load")  # MLflow's and Airflow's pages poll: never network-idle
    want = expected_text(url, run_id)
    if urllib.parse.urlparse(url).path.endswith("/mlops/api/reports"):
        assert response.headers["content-security-policy"] == "sandbox"
        kind = response.headers["content-type"]
        if kind.startswith("text/html"):
            assert page.title().strip(), f"{url}: a report without a title"
        else:
            assert kind.startswith(("application/json", "image/")), (url, kind)
        return
    page.get_by_text(want, exact=False).first.wait_for(timeout=30_000)


def test_three_nights_on_the_models_page_and_behind_every_link(api, three_nights, page,
                                                                 stack_env, clean_model):
    base = stack_env["STACK_API_URL"]
    page.get_by_role("button", name="Browse").click()
    page.get_by_role("menuitem", name="Models").click()
    page.wait_for_url(base + "/plugin/mlops-models")
    model = page.frame_locator("iframe").locator("#model-churn")
    model.wait_for()
    champion = alias_version(clean_model, "churn", CHAMPION)
    assert f"champion v{champion}" in model.locator(".head").inner_text()
    text = model.inner_text()
    for rid in three_nights.values():
        assert rid in text
    assert "rejected" in text and "blocked: validate" in text
    model.locator("img").evaluate("img => img.decode()")
    shot(page, "models-page-stack.png")

    followed = []
    for kind, rid in three_nights.items():
        states = api.task_states(rid)
        for task_id in EVIDENCE_TASKS:
            if states.get(task_id) in (None, "skipped", "upstream_failed"):
                continue
            for name, url in task_links(api, rid, task_id).items():
                if not url:
                    continue  # nothing to open: no button in the UI
                assert url.startswith(("http://", "https://")), (kind, task_id, name, url)
                check_target(page, url, rid)
                followed.append((kind, task_id))
    assert {("promoted", "train"), ("promoted", "evaluate"), ("promoted", "promote"),
            ("rejected", "reject"), ("blocked", "validate")} <= set(followed)

    page.goto(f"{base}/dags/{DAG_ID}/runs/"
              f"{urllib.parse.quote(three_nights['promoted'], safe='')}/tasks/evaluate/details")
    # Airflow's UI renders each extra link as a button-styled <a>: the role is "link".
    page.get_by_role("link", name="Decision record").first.wait_for(timeout=30_000)
    shot(page, "task-links.png")


def test_a_gated_night_is_approved_from_required_actions(api, clean_model, land, customers,
                                                          run_id, page, stack_env):
    base = stack_env["STACK_API_URL"]
    api.fresh_dag(GATED)
    rid = run_id("ui-gated")
    land(customers.iloc[: len(customers) // 3], day(10))
    api.trigger(day(10), rid, dag_id=GATED)
    api.wait_task(rid, "approve", {"awaiting_input"}, timeout=900, dag_id=GATED)

    page.goto(f"{base}/dags/{GATED}/runs/{urllib.parse.quote(rid, safe='')}/required_actions")
    page.get_by_text("to champion?").first.click()
    shot(page, "required-action.png")
    approve = page.get_by_role("button", name="Approve")
    if approve.count():
        approve.first.click()
    else:  # a choice form: pick the option, then respond
        page.get_by_text("Approve", exact=True).first.click()
        page.get_by_role("button", name="Respond").click()

    assert api.wait(rid, dag_id=GATED) == "success", api.explain(rid, dag_id=GATED)
    states = api.task_states(rid, dag_id=GATED)
    assert states["approve"] == "success" and states["promote"] == "success", states
    assert states["reject"] == "skipped"
    assert alias_version(clean_model, "churn", CHAMPION) == api.xcom(
        rid, "evaluate", dag_id=GATED)["challenger_version"]
