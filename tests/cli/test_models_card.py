"""``airflow-mlops models card|reproduce`` against a real MLflow store and a trained version."""

from __future__ import annotations

import json

import pytest

from airflow_mlops.cli.common import EXIT_FAILED, EXIT_OK, EXIT_UNUSABLE
from airflow_mlops.cli.main import main
from airflow_mlops.core import registry
from airflow_mlops.core.io import file_digest, fingerprint, read_table
from airflow_mlops.core.model_card import card_facts, write_card
from airflow_mlops.core.training import TRAINING_SPEC_TAG, train_challenger

MODEL = "churn"


@pytest.fixture
def champion(mlflow_session, customers, tmp_path):
    """v1 trained on a CSV under tmp_path, promoted to champion, with its card written."""
    from mlflow import MlflowClient

    data = tmp_path / "customers.csv"
    customers.head(300).to_csv(data, index=False)
    frame = read_table(data)
    version = train_challenger(
        frame, model_name=MODEL, experiment_name="cli", target="churned", features=None,
        estimator={"class": "sklearn.tree.DecisionTreeClassifier",
                   "params": {"max_depth": 3, "random_state": 0}},
        task="classification", holdout_fraction=0.3, seed=7,
        artifact_location=str(tmp_path / "artifacts"),
        lineage={"dag_id": "d", "run_id": "r", "data_uri": str(data),
                 "data_fingerprint": fingerprint(frame), "data_digest": file_digest(data)},
    )["version"]
    client = MlflowClient()
    registry.promote(client, MODEL, version, expected_champion=None, reason="first")
    write_card(client, MODEL, version, card_facts(owner="data-science", purpose="retention",
                                                  validation=None, data_interval=None))
    return client, version, data


def run(capsys, tracking_uri: str, *argv: str) -> tuple[int, str, str]:
    code = main(["models", *argv, "--tracking-uri", tracking_uri])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_card_prints_the_champion_s_card_and_writes_html(champion, mlflow_session, capsys,
                                                         tmp_path):
    _, version, _ = champion
    out_html = tmp_path / "card.html"
    code, out, _ = run(capsys, mlflow_session, "card", MODEL, "--html", str(out_html))
    assert code == EXIT_OK
    assert out.startswith("---\nlibrary_name: sklearn")
    assert f"`{MODEL} v{version}`" in out and "Owner: data-science" in out
    assert "Aliases when this card was written: challenger, champion" in out
    assert "<h1>Model description</h1>" in out_html.read_text()


def test_card_of_a_model_without_champion_or_card_is_refused(champion, mlflow_session, capsys):
    code, _, err = run(capsys, mlflow_session, "card", "unknown")
    assert code == EXIT_UNUSABLE and "has no champion; name a version" in err


def test_reproduce_reports_a_match(champion, mlflow_session, capsys):
    _, version, data = champion
    code, out, _ = run(capsys, mlflow_session, "reproduce", MODEL, version)
    assert code == EXIT_OK
    assert out.startswith(f"model {MODEL} v{version} rebuilt from {data}: matches")
    assert "differs" not in out
    code, out, _ = run(capsys, mlflow_session, "reproduce", MODEL, version, "--json")
    assert json.loads(out)["matches"] is True


def test_reproduce_reports_differences(champion, mlflow_session, capsys):
    client, version, _ = champion
    run_id = client.get_model_version(MODEL, version).run_id
    spec = json.loads(client.get_run(run_id).data.tags[registry.tag(TRAINING_SPEC_TAG)])
    spec["estimator"]["params"]["max_depth"] = 1
    client.set_tag(run_id, registry.tag(TRAINING_SPEC_TAG), json.dumps(spec))
    code, out, _ = run(capsys, mlflow_session, "reproduce", MODEL, version)
    assert code == EXIT_FAILED
    assert "does NOT match" in out and "differs" in out


def test_reproduce_refuses_changed_data(champion, mlflow_session, capsys):
    _, version, data = champion
    data.write_text(data.read_text() + data.read_text().splitlines()[1] + "\n")
    code, _, err = run(capsys, mlflow_session, "reproduce", MODEL, version)
    assert code == EXIT_UNUSABLE and "changed since training" in err
