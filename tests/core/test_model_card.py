"""Tests for model cards built from the registry records of a version."""

from __future__ import annotations

import re

import pytest
from mlflow import MlflowClient

from airflow_mlops.core import registry
from airflow_mlops.core.errors import RegistryError
from airflow_mlops.core.evaluation import evaluate_challenger
from airflow_mlops.core.model_card import (
    CARD_TAG,
    DESCRIPTION_PREFIX,
    card_facts,
    read_card,
    render_html,
    write_card,
)
from airflow_mlops.core.training import train_challenger

MODEL = "churn"
FEATURES = ["tenure_months", "monthly_charges", "support_calls", "contract", "region"]
SPLIT = {"target": "churned", "features": FEATURES, "task": "classification",
         "holdout_fraction": 0.3, "seed": 7}
POLICY = {"primary_metric": "roc_auc", "greater_is_better": True, "threshold": 0.99,
          "slices": {"column": "contract", "min_rows": 5, "max_regression": 0.5},
          "bootstrap": {"resamples": 100, "confidence": 0.9}}
VALIDATION = {"data": "/data/ds=2026-01-02/customers.csv", "suite": "churn", "success": False,
              "rows": 300, "evaluated": 12, "failed": 1, "report": "/reports/index.html",
              "failures": [{"column": "tenure_months", "expectation":
                            "expect_column_values_to_be_between", "reason": "3 values < 0 <b>"}]}


@pytest.fixture
def versions(mlflow_session, customers, tmp_path):
    """v1 promoted as champion; v2 evaluated against it (rejected: the threshold is 0.99)."""
    frame = customers.head(300)
    client = MlflowClient()

    def train(run_id, estimator):
        return train_challenger(
            frame, model_name=MODEL, experiment_name="cards", estimator=estimator,
            lineage={"dag_id": "nightly_retrain_churn", "run_id": run_id,
                     "data_uri": "/data/ds=2026-01-02/customers.csv", "data_fingerprint": "fp1",
                     "data_digest": "d1"},
            artifact_location=str(tmp_path / "artifacts"), **SPLIT,
        )["version"]

    first = train("night1", {"class": "sklearn.linear_model.LogisticRegression"})
    registry.promote(client, MODEL, first, expected_champion=None, reason="first champion",
                     lineage={"dag_id": "nightly_retrain_churn", "run_id": "night1"})
    second = train("night2", {"class": "sklearn.dummy.DummyClassifier"})
    evaluate_challenger(frame, model_name=MODEL, challenger_version=second, policy=POLICY,
                        lineage={"dag_id": "nightly_retrain_churn", "run_id": "night2"}, **SPLIT)
    return client, first, second


def test_an_evaluated_version_s_card_has_every_section(versions):
    client, first, second = versions
    facts = card_facts(owner="data-science", purpose="Which customers will leave next month",
                       validation=VALIDATION, data_interval=("2026-01-01", "2026-01-02"))
    uri = write_card(client, MODEL, second, facts)
    card = read_card(client, MODEL, second)
    assert card.startswith("---\nlibrary_name: sklearn\n")
    for section in ("Model description", "Owner and purpose", "Training data",
                    "Data validation", "Failed expectations", "Hyperparameters", "Libraries",
                    "Evaluation Results", "Metrics", "Slices", "Gain interval", "Decision",
                    "Approval", "Drift baseline", "Alias history"):
        assert re.search(rf"^#+ {section}$", card, re.MULTILINE), section
    assert "Owner: data-science" in card and "Which customers will leave" in card
    assert "2026-01-01 to 2026-01-02" in card and "`/data/ds=2026-01-02/customers.csv`" in card
    assert f"champion v{first}" in card
    assert "Verdict: **reject**" in card and "misses the bar" in card
    assert "sklearn.dummy.DummyClassifier" in card
    assert "| month-to-month |" in card  # one slice row
    version = client.get_model_version(MODEL, second)
    assert version.tags[registry.tag(CARD_TAG)] == uri
    assert version.description.endswith(f"\n\n{DESCRIPTION_PREFIX}{uri}")
    assert version.description.startswith("Trained by the Airflow DAG run")  # kept
    assert version.description.count(DESCRIPTION_PREFIX) == 1


def test_the_champion_s_card_shows_its_alias_history(versions):
    client, first, _ = versions
    write_card(client, MODEL, first)
    card = read_card(client, MODEL, first)
    assert "Aliases when this card was written: champion" in card
    assert "first champion" in card and "| promote |" in card
    assert "No decision yet" in card  # v1 was promoted by hand in this test, never evaluated


def test_a_rewrite_keeps_the_facts_and_shows_the_new_status(versions):
    client, _, second = versions
    write_card(client, MODEL, second, card_facts(owner="data-science", purpose=None,
                                                 validation=VALIDATION, data_interval=None))
    registry.set_version_tags(client, MODEL, second, {
        "status": "rejected", "rejected_because": "below the 0.99 bar",
        "approval": "Reject", "approved_by": "alice", "approved_at": "2026-01-02T08:00:00"})
    write_card(client, MODEL, second)
    card = read_card(client, MODEL, second)
    assert "Owner: data-science" in card
    assert "Status now: rejected" in card and "below the 0.99 bar" in card
    assert "Reject by alice at 2026-01-02T08:00:00" in card


def test_the_html_shows_data_values_as_text(versions):
    client, _, second = versions
    write_card(client, MODEL, second, card_facts(
        owner="<script>alert(1)</script>", purpose="[x](javascript:alert(1))",
        validation=VALIDATION, data_interval=None))
    page = read_card(client, MODEL, second, as_html=True)
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'href="javascript:' not in page
    assert "&lt;b&gt;" in page and "<table>" in page
    assert "Content-Security-Policy" in page


def test_rendering_allows_html_only_when_asked_negative_control():
    """Without ``html: False`` the same renderer would pass the script through."""
    from markdown_it import MarkdownIt

    assert "<script>" in MarkdownIt("commonmark").render("<script>alert(1)</script>\n")
    assert "<script>" not in render_html("<script>alert(1)</script>\n", title="t")


def test_a_version_without_a_card_is_refused(versions):
    client, first, _ = versions
    with pytest.raises(RegistryError, match=f"v{first} has no model card yet"):
        read_card(client, MODEL, first)
