"""``airflow-mlops models status|history|rollback|trust`` against a real MLflow store."""

from __future__ import annotations

import json

import pytest

from airflow_mlops.cli.common import EXIT_OK, EXIT_UNUSABLE
from airflow_mlops.cli.main import main
from airflow_mlops.core import ledger, registry

MODEL = "churn"


@pytest.fixture
def store(tracking_uri, tmp_path):
    """Versions 1 to 3; v1 then v2 promoted by two nightly runs, v3 rejected."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri, tracking_uri)
    registry.ensure_registered_model(client, MODEL)
    for number in range(3):
        client.create_model_version(MODEL, source=str(tmp_path / f"model{number}"))
    for version, expected, run_id in (("1", None, "scheduled__1"), ("2", "1", "scheduled__2")):
        registry.promote(client, MODEL, version, expected_champion=expected,
                         reason=f"v{version} wins", lineage={"dag_id": "nightly",
                                                              "run_id": run_id})
    registry.set_alias(client, MODEL, registry.CHALLENGER, "3", action="train",
                       lineage={"dag_id": "nightly", "run_id": "scheduled__3"})
    registry.set_version_tags(client, MODEL, "3", {
        "decision": "reject", "status": "rejected", "compared_to": "2",
        "evaluated_by": "nightly/scheduled__3", "reasons": "roc_auc 0.70 vs champion 0.80",
    })
    return client


def run(capsys, tracking_uri: str, *argv: str) -> tuple[int, str, str]:
    code = main(["models", *argv, "--tracking-uri", tracking_uri])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_status_shows_aliases_and_the_latest_decisions(store, tracking_uri, capsys):
    code, out, _ = run(capsys, tracking_uri, "status", MODEL)

    assert code == EXIT_OK
    lines = out.splitlines()
    assert lines[0] == "model churn"
    assert [line.split() for line in lines[2:6]] == [
        ["ALIAS", "VERSION"], ["challenger", "3"], ["champion", "2"], ["previous_champion", "1"]]
    assert lines[8].split() == ["3", "reject", "rejected", "2", "nightly/scheduled__3", "roc_auc",
                                "0.70", "vs", "champion", "0.80"]
    assert [line.split()[:3] for line in lines[9:11]] == [["2", "-", "champion"],
                                                          ["1", "-", "replaced"]]


def test_status_shows_one_champion_after_a_rollback(store, tracking_uri, capsys):
    run(capsys, tracking_uri, "rollback", MODEL, "--reason", "bad predictions")

    code, out, _ = run(capsys, tracking_uri, "status", MODEL, "--json")

    statuses = {d["version"]: d["status"] for d in json.loads(out)["decisions"]}
    assert code == EXIT_OK
    assert statuses == {"3": "rejected", "2": "rolled_back", "1": "champion"}


def test_status_as_json(store, tracking_uri, capsys):
    code, out, _ = run(capsys, tracking_uri, "status", MODEL, "--json", "--decisions", "1")

    status = json.loads(out)
    assert code == EXIT_OK
    assert status["aliases"] == {"challenger": "3", "champion": "2", "previous_champion": "1"}
    assert [d["version"] for d in status["decisions"]] == ["3"]
    assert status["decisions"][0]["compared_to"] == "2"


def test_status_of_an_unknown_model(store, tracking_uri, capsys):
    code, out, err = run(capsys, tracking_uri, "status", "fraud")

    assert (code, out) == (EXIT_UNUSABLE, "")
    assert err == "error: model 'fraud' is not registered\n"


def test_history_lists_the_ledger_newest_first(store, tracking_uri, capsys):
    code, out, _ = run(capsys, tracking_uri, "history", MODEL)

    assert code == EXIT_OK
    rows = [line.split() for line in out.splitlines()]
    assert rows[0] == ["TIME", "(UTC)", "ALIAS", "FROM", "TO", "ACTION", "STATUS", "DAG", "RUN",
                       "REASON"]
    assert [row[2:8] for row in rows[1:]] == [
        ["challenger", "-", "3", "train", "finished", "nightly/scheduled__3"],
        ["champion", "1", "2", "promote", "finished", "nightly/scheduled__2"],
        ["champion", "-", "1", "promote", "finished", "nightly/scheduled__1"],
    ]


def test_history_of_one_alias_as_json(store, tracking_uri, capsys):
    code, out, _ = run(capsys, tracking_uri, "history", MODEL, "--alias", "champion", "--json")

    entries = json.loads(out)
    assert code == EXIT_OK
    assert [(e["to_version"], e["reason"]) for e in entries] == [("2", "v2 wins"),
                                                                 ("1", "v1 wins")]


def test_history_without_moves(tracking_uri, capsys):
    assert run(capsys, tracking_uri, "history", MODEL)[1] == \
        "no alias moves of model churn recorded\n"


def test_rollback_restores_the_previous_champion_and_is_recorded(store, tracking_uri, capsys):
    code, out, _ = run(capsys, tracking_uri, "rollback", MODEL, "--reason", "bad predictions",
                       "--expected-champion", "2")

    assert code == EXIT_OK
    assert out == "model churn: champion is v1 again; previous_champion is v2\n"
    assert registry.alias_version(store, MODEL, registry.CHAMPION) == "1"
    latest = ledger.history(store, MODEL, alias=registry.CHAMPION)[0]
    assert (latest.action, latest.from_version, latest.to_version, latest.reason) == (
        "rollback", "2", "1", "bad predictions")
    assert latest.dag_id == "airflow-mlops-cli"
    assert latest.dag_run_id.startswith("cli__")


def test_rollback_of_a_champion_that_moved_changes_nothing(store, tracking_uri, capsys):
    code, _, err = run(capsys, tracking_uri, "rollback", MODEL, "--reason", "x",
                       "--expected-champion", "3")

    assert code == EXIT_UNUSABLE
    assert err == "error: model 'churn': champion is version 2, not 3; nothing was rolled back\n"
    assert registry.alias_version(store, MODEL, registry.CHAMPION) == "2"


def test_an_airflow_connection_can_name_the_store(store, mlflow_connection, capsys):
    code = main(["models", "status", MODEL, "--conn-id", "mlflow_default", "--json"])

    assert code == EXIT_OK
    assert json.loads(capsys.readouterr().out)["aliases"]["champion"] == "2"


def test_rollback_needs_a_reason():
    with pytest.raises(SystemExit):
        main(["models", "rollback", MODEL])


def test_trust_records_the_digest_of_a_hand_registered_version_once(
        mlflow_session, tracking_uri, customers, tmp_path, capsys):
    from mlflow import MlflowClient

    from airflow_mlops.core.fetch import DIGEST_TAG, downloaded_digest
    from airflow_mlops.core.training import train_challenger

    version = train_challenger(
        customers.head(200), model_name=MODEL, experiment_name="trust", target="churned",
        features=["tenure_months", "monthly_charges"], task="classification",
        holdout_fraction=0.3, seed=7,
        estimator={"class": "sklearn.linear_model.LogisticRegression"},
        lineage={"dag_id": "d", "run_id": "r", "data_fingerprint": "f"},
        artifact_location=str(tmp_path / "artifacts"),
    )["version"]
    client = MlflowClient()
    client.delete_model_version_tag(MODEL, version, registry.tag(DIGEST_TAG))

    code, out, _ = run(capsys, tracking_uri, "trust", MODEL, version, "--reason", "reviewed")
    digest = downloaded_digest(MODEL, version)
    assert code == EXIT_OK
    assert out == f"model churn v{version}: files with sha256 {digest} may load\n"
    assert client.get_model_version(MODEL, version).tags[registry.tag(DIGEST_TAG)] == digest

    code, out, err = run(capsys, tracking_uri, "trust", MODEL, version, "--reason", "again")
    assert (code, out) == (EXIT_UNUSABLE, "")
    assert err.splitlines()[-1] == (f"error: model 'churn' v{version}: a SHA-256 is already "
                                    f"recorded for models:/churn/{version}; nothing to trust")


def test_trust_needs_a_reason():
    with pytest.raises(SystemExit):
        main(["models", "trust", MODEL, "1"])


def test_trust_of_an_unknown_version(store, tracking_uri, capsys):
    code, out, err = run(capsys, tracking_uri, "trust", MODEL, "99", "--reason", "reviewed")

    assert (code, out) == (EXIT_UNUSABLE, "")
    assert err.splitlines()[-1] == "error: model 'churn' v99: no such version in the registry"
