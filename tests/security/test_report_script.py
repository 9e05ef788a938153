"""Reports that cannot carry script: values and column names from data in the validation, drift
and comparison outputs stay text (real GX, real Evidently, real MLflow; a real browser where
Chromium is installed)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from airflow_mlops.core.drift import DriftOptions, check_drift, report_files
from airflow_mlops.core.reports import INLINE_SCRIPT, render_html
from airflow_mlops.core.validation import Suite, validate_frame

SCRIPT = "</script><script>alert(1)</script>"
IMAGE = "<img src=x onerror=alert(1)>"
COMMENT = "<!--<script>alert(1)//"
PAYLOADS = [SCRIPT, IMAGE, COMMENT]
# The same attacks with an effect the DOM shows: the page's root gets a data-xss attribute.
MARKING = ["</script><script>document.documentElement.dataset.xss=1</script>",
           "<img src=x onerror=document.documentElement.dataset.xss=2>"]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class Elements(HTMLParser):
    """The start tags of a page, with their attributes, and its scripts' text."""

    def __init__(self, page: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def handlers(page: str) -> list[tuple[str, str]]:
    """Every element with an event handler attribute (on...)."""
    return [(tag, name) for tag, attrs in Elements(page).tags for name in attrs
            if name.startswith("on")]


def policy(page: str) -> str:
    (content,) = [attrs["content"] for tag, attrs in Elements(page).tags
                  if tag == "meta" and attrs.get("http-equiv") == "Content-Security-Policy"]
    return content


def hostile_frame(values: list[str], rows: int = 300, seed: int = 0) -> pd.DataFrame:
    """A categorical column named by each payload, holding the payloads; one numeric column."""
    rng = np.random.default_rng(seed)
    data = {name: rng.choice([*values, "plain"], rows) for name in values}
    return pd.DataFrame({**data, "amount": rng.normal(0, 1, rows)})


# --- validation -------------------------------------------------------------------------


def validation_page(values: list[str]) -> str:
    frame = hostile_frame(values)
    expectations = [{"type": "expect_column_values_to_be_in_set",
                     "kwargs": {"column": name, "value_set": ["plain"]}} for name in values]
    expectations.append({"type": "expect_column_to_exist", "kwargs": {"column": values[0] + "x"}})
    validation = validate_frame(frame, Suite("hostile", "hostile.json", expectations),
                                data_name="hostile.csv")
    return render_html(validation.summary, validation.result)


def test_validation_page_shows_hostile_names_and_values_as_text_only():
    page = validation_page(PAYLOADS)

    tags = {tag for tag, _ in Elements(page).tags}
    assert "script" not in tags and "img" not in tags
    assert handlers(page) == []
    assert "default-src 'none'" in policy(page) and "script-src" not in policy(page)
    # The payloads did reach the page, as text: column names and example values.
    assert page.count("&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;") >= 2
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


def test_negative_control_the_same_values_unescaped_would_be_elements():
    page = validation_page([SCRIPT, IMAGE]).replace("&lt;", "<").replace("&gt;", ">")

    tags = [tag for tag, _ in Elements(page).tags]
    assert "script" in tags and "img" in tags
    assert ("img", "onerror") in handlers(page)


# --- drift ------------------------------------------------------------------------------


def drift_page(values: list[str]) -> str:
    reference, current = hostile_frame(values, seed=1), hostile_frame(values, seed=2)
    current[values[0]] = values[0]  # one category only: drift, and a note naming values
    result = check_drift(reference, current, columns=list(reference.columns),
                         options=DriftOptions())
    return report_files(result.summary(current="hostile.csv"), result)["drift_report.html"]


@pytest.fixture(scope="module")
def drift_report() -> str:
    return drift_page(PAYLOADS)


def test_drift_report_runs_only_evidentlys_own_scripts(drift_report):
    scripts = INLINE_SCRIPT.findall(drift_report)

    assert len(scripts) == 4  # data, global, Evidently's library, drawing the dashboard
    assert [tag for tag, _ in Elements(drift_report).tags].count("script") == 4
    assert "img" not in {tag for tag, _ in Elements(drift_report).tags}
    assert handlers(drift_report) == []
    allowed = re.search(r"script-src ([^;]+);", policy(drift_report))[1].split()
    assert len(allowed) == 4 and "'unsafe-inline'" not in allowed
    assert "'unsafe-eval'" not in allowed


def test_drift_report_embeds_hostile_names_and_values_as_json_strings(drift_report):
    data = INLINE_SCRIPT.findall(drift_report)[0]

    assert "<" not in data and ">" not in data
    assert json.dumps(SCRIPT).replace("<", "\\u003c").replace(">", "\\u003e") in data
    assert json.dumps(IMAGE).replace("<", "\\u003c").replace(">", "\\u003e") in data
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in drift_report  # banner


def test_negative_control_evidentlys_own_page_lets_a_value_open_a_script(monkeypatch):
    from airflow_mlops.core import drift

    monkeypatch.setattr(drift, "safe_evidently_html", lambda page: page)
    page = drift_page(PAYLOADS)

    assert "alert(1)" in INLINE_SCRIPT.findall(page)


def test_an_unexpected_evidently_page_is_left_out_not_shipped(monkeypatch):
    from evidently.core.report import Snapshot

    def reshaped(snapshot, as_iframe):
        return "<html><head></head><body><script>var data = {};</script></body></html>"

    monkeypatch.setattr(Snapshot, "get_html_str", reshaped)
    page = drift_page(PAYLOADS)

    assert "<script" not in page
    assert "default-src 'none'" in policy(page)
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page  # our own table


# --- comparison -------------------------------------------------------------------------


def test_the_comparison_is_json_and_png_only_whatever_the_slice_values(mlflow_session, tmp_path,
                                                                       customers):
    from mlflow import MlflowClient

    from airflow_mlops.core import registry
    from airflow_mlops.core.evaluation import evaluate_challenger
    from airflow_mlops.core.training import train_challenger

    frame = customers.head(400).rename(columns={"contract": SCRIPT})
    frame[SCRIPT] = frame[SCRIPT].map(dict(zip(sorted(frame[SCRIPT].unique()), PAYLOADS,
                                               strict=True)))
    split = {"target": "churned", "features": ["tenure_months", "support_calls", SCRIPT],
             "task": "classification", "holdout_fraction": 0.3, "seed": 7}
    def train(run_id: str) -> str:
        return train_challenger(
            frame, model_name="churn", experiment_name="churn",
            estimator={"class": "sklearn.dummy.DummyClassifier", "params": {}},
            lineage={"dag_id": "d", "run_id": run_id, "data_fingerprint": "f"},
            artifact_location=str(tmp_path / "artifacts"), **split)["version"]

    registry.promote(MlflowClient(), "churn", train("r1"), expected_champion=None)
    version = train("r2")
    policy_ = {"primary_metric": "roc_auc", "greater_is_better": True, "threshold": None,
               "min_absolute_change": 0.0, "min_relative_change": 0.0,
               "slices": {"column": SCRIPT, "min_rows": 1, "max_regression": 1.0}}

    summary = evaluate_challenger(frame, model_name="churn", challenger_version=version,
                                  policy=policy_, lineage={"dag_id": "d", "run_id": "e"},
                                  **split)

    client = MlflowClient()
    run_id = client.get_model_version("churn", version).run_id
    folder = summary["record_uri"].split(f"runs:/{run_id}/", 1)[1].rsplit("/", 1)[0]
    stored = {item.path.rsplit("/", 1)[1] for item in client.list_artifacts(run_id, folder)}
    assert stored == {"decision.json", "comparison.png"}
    record = json.loads(Path(client.download_artifacts(run_id, f"{folder}/decision.json",
                                                       str(tmp_path))).read_text())
    assert {v["value"] for v in record["slices"]["values"]} == set(PAYLOADS)
    png = Path(client.download_artifacts(run_id, f"{folder}/comparison.png", str(tmp_path)))
    assert png.read_bytes().startswith(b"\x89PNG")


# --- in a browser -----------------------------------------------------------------------


def rendered(page: str, tmp_path: Path) -> str:
    """The DOM Chromium built from ``page`` after its scripts ran."""
    path = tmp_path / "page.html"
    path.write_text(page)
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000",
         "--dump-dom", path.as_uri()],
        capture_output=True, text=True, timeout=120, check=True).stdout


def marked(dom: str) -> bool:
    """Whether a payload ran: it marks the page's root element."""
    return "data-xss" in re.search(r"<html([^>]*)>", dom)[1]


def without_policy(page: str) -> str:
    return re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page)


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium to render the pages in")
def test_in_a_browser_no_hostile_value_runs(tmp_path, monkeypatch):
    from airflow_mlops.core import drift

    validation, report = validation_page(MARKING), drift_page(MARKING)
    drawn = rendered(report, tmp_path)

    assert not marked(rendered(validation, tmp_path))
    assert not marked(drawn)
    assert 'class="MuiBox-root' in drawn  # Evidently's dashboard still draws under the policy
    unescaped = validation.replace("&lt;", "<").replace("&gt;", ">")
    assert not marked(rendered(unescaped, tmp_path))  # the policy alone stops it
    assert marked(rendered(without_policy(unescaped), tmp_path))  # neither guard: it runs
    monkeypatch.setattr(drift, "safe_evidently_html", lambda page: page)
    assert marked(rendered(drift_page(MARKING), tmp_path))
