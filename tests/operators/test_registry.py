"""Promote, reject and rollback operators against a real MLflow store and connection."""

from __future__ import annotations

import json
import os
from types import SimpleNamespace

import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_mlops.core import ledger, registry
from airflow_mlops.core.fetch import DIGEST_TAG, SMOKE_TAG
from airflow_mlops.operators.registry import (
    PromoteChallengerOperator,
    RejectChallengerOperator,
    RollbackChampionOperator,
)

MODEL = "churn"
RUN = SimpleNamespace(dag_id="nightly_retrain_churn", run_id="scheduled__2026-03-02",
                      task_id="promote")


def context(run_id: str = RUN.run_id) -> dict:
    return {"ti": SimpleNamespace(dag_id=RUN.dag_id, run_id=run_id, task_id="t")}


def decision(version: str, champion: str | None, verdict: str = "promote", **extra) -> dict:
    return {"verdict": verdict, "challenger_version": version, "champion_version": champion,
            "reasons": [f"v{version} beats v{champion}"], **extra}


def smoke_checked(client, version: str, digest: str) -> None:
    """Tag ``version`` as trained with files ``digest`` and smoke-checked on them."""
    registry.set_version_tags(client, MODEL, version, {
        DIGEST_TAG: digest, SMOKE_TAG: {"passed": True, "digest": digest}})


@pytest.fixture
def client(mlflow_connection, tmp_path):
    """Model MODEL with versions 1 to 3, each smoke-checked, reached through the
    mlflow_default connection."""
    from mlflow import MlflowClient

    client = MlflowClient(mlflow_connection, mlflow_connection)
    registry.ensure_registered_model(client, MODEL)
    for number in range(3):
        version = client.create_model_version(MODEL, source=str(tmp_path / f"model{number}"))
        smoke_checked(client, str(version.version), f"digest-{number}")
    return client


def promote(summary: dict, run_id: str = RUN.run_id) -> dict:
    operator = PromoteChallengerOperator(task_id="promote", model_name=MODEL, decision=summary)
    return operator.execute(context(run_id))


def aliases(client) -> dict[str, str]:
    return {a: str(v) for a, v in client.get_registered_model(MODEL).aliases.items()}


def test_templated_fields():
    assert PromoteChallengerOperator.template_fields == ("decision",)
    assert RejectChallengerOperator.template_fields == ("decision",)
    assert set(RollbackChampionOperator.template_fields) == {"reason", "expected_champion"}


def test_promote_moves_the_champion_and_records_it(client):
    promote(decision("1", None), run_id="r1")

    result = promote(decision("2", "1"))

    assert result == {"model": MODEL, "champion": "2", "previous_champion": "1", "moved": True}
    assert aliases(client) == {registry.CHAMPION: "2", registry.PREVIOUS_CHAMPION: "1"}
    entry = ledger.history(client, MODEL)[0]
    assert (entry.dag_id, entry.dag_run_id, entry.reason) == (RUN.dag_id, RUN.run_id,
                                                              "v2 beats v1")
    tags = client.get_model_version(MODEL, "2").tags
    assert tags["airflow_mlops.status"] == "champion"
    assert tags["airflow_mlops.promoted_by"] == f"{RUN.dag_id}/{RUN.run_id}"


def test_promote_talks_to_mlflow_inside_the_connection_session(client, monkeypatch,
                                                               mlflow_connection):
    connection = {"conn_type": "mlflow", "host": mlflow_connection, "login": "svc",
                  "password": "s3cret"}
    monkeypatch.setenv("AIRFLOW_CONN_MLFLOW_DEFAULT", json.dumps(connection))
    seen = {}
    real = registry.promote

    def spy(*args, **kwargs):
        seen["user"] = os.environ.get("MLFLOW_TRACKING_USERNAME")
        return real(*args, **kwargs)

    monkeypatch.setattr(registry, "promote", spy)

    promote(decision("1", None))

    assert seen == {"user": "svc"}
    assert "MLFLOW_TRACKING_USERNAME" not in os.environ


def test_re_running_promote_moves_nothing_twice(client):
    promote(decision("1", None), run_id="r1")
    promote(decision("2", "1"))

    again = promote(decision("2", "1"))

    assert again["moved"] is False
    assert len(ledger.history(client, MODEL)) == 2


def test_champion_changed_since_evaluation_fails_and_moves_nothing(client):
    promote(decision("1", None), run_id="r1")
    promote(decision("2", "1"), run_id="r2")

    with pytest.raises(AirflowFailException, match="champion is version 2, but the evaluation "
                                                   "compared against 1; nothing was moved"):
        promote(decision("3", "1"))

    assert aliases(client) == {registry.CHAMPION: "2", registry.PREVIOUS_CHAMPION: "1"}
    assert len(ledger.history(client, MODEL)) == 2
    tags = client.get_model_version(MODEL, "3").tags
    assert tags[registry.tag("status")] == "conflict"
    assert "compared against 1; nothing was moved" in tags[registry.tag("conflict")]
    assert tags[registry.tag("conflict_by")] == f"{RUN.dag_id}/{RUN.run_id}"


def test_a_rejected_decision_is_never_promoted(client):
    with pytest.raises(AirflowFailException, match="model 'churn' v1: the decision is reject"):
        promote(decision("1", None, verdict="reject"))

    assert aliases(client) == {}


def test_a_version_that_failed_its_smoke_check_is_never_promoted(client):
    import pandas as pd

    from airflow_mlops.core.smoke import SmokeCheckError, smoke_check
    from airflow_mlops.hooks.mlflow import MlflowHook

    with MlflowHook().session(), pytest.raises(SmokeCheckError):  # v1 has no files
        smoke_check(pd.DataFrame({"x": [1]}), model_name=MODEL, version="1",
                    sample_name="sample.csv", lineage={"dag_id": "d", "run_id": "r"})

    with pytest.raises(AirflowFailException, match="model 'churn' v1 failed its smoke check "
                                                   r"\(.+\); it cannot be promoted"):
        promote(decision("1", None))
    assert aliases(client) == {}
    assert ledger.history(client, MODEL) == []


def test_a_version_never_smoke_checked_is_never_promoted(client):
    client.delete_model_version_tag(MODEL, "1", registry.tag(SMOKE_TAG))

    with pytest.raises(AirflowFailException, match="model 'churn' v1 was never smoke-checked; "
                                                   "it cannot be promoted"):
        promote(decision("1", None))
    assert aliases(client) == {}


def test_a_smoke_check_of_other_files_does_not_count(client):
    """The recorded SHA-256 was rewritten after the smoke check passed."""
    registry.set_version_tags(client, MODEL, "1", {DIGEST_TAG: "other-digest"})

    with pytest.raises(AirflowFailException, match=r"model 'churn' v1: its smoke check passed "
                       r"on files with sha256 digest-0\.\.\., not those recorded now "
                       r"\(other-digest\.\.\.\)"):
        promote(decision("1", None))
    assert aliases(client) == {}
    smoke_checked(client, "1", "other-digest")  # control: a check of these files counts
    assert promote(decision("1", None))["moved"] is True


def test_dry_run_moves_nothing(client):
    result = promote(decision("1", None, dry_run=True))

    assert result["moved"] is False and result["dry_run"] is True
    assert aliases(client) == {}
    assert ledger.history(client, MODEL) == []


def test_an_approved_promotion_says_so_in_the_ledger(client):
    promote(decision("1", None, verdict="needs_approval"))

    assert ledger.history(client, MODEL)[0].reason == "approved by a human; v1 beats vNone"


@pytest.mark.parametrize(("verdict", "because"), [
    ("reject", "v1 beats vNone"),
    ("needs_approval", "rejected at approval; the policy said needs_approval: v1 beats vNone"),
])
def test_reject_tags_the_challenger_with_why(client, verdict, because):
    operator = RejectChallengerOperator(task_id="reject", model_name=MODEL,
                                        decision=decision("1", None, verdict=verdict))

    assert operator.execute(context()) == {"model": MODEL, "rejected": "1", "champion": None}
    tags = client.get_model_version(MODEL, "1").tags
    assert (tags["airflow_mlops.status"], tags["airflow_mlops.rejected_because"]) == (
        "rejected", because)


def rollback(**kwargs) -> dict:
    operator = RollbackChampionOperator(task_id="rollback", model_name=MODEL,
                                        reason="smoke check failed", **kwargs)
    return operator.execute(context())


def test_rollback_restores_the_previous_champion_once(client):
    promote(decision("1", None), run_id="r1")
    promote(decision("2", "1"), run_id="r2")

    assert rollback(expected_champion="2")["moved"] is True
    assert rollback(expected_champion="2")["moved"] is False

    assert aliases(client) == {registry.CHAMPION: "1", registry.PREVIOUS_CHAMPION: "2"}
    entry = ledger.history(client, MODEL)[0]
    assert (entry.action, entry.from_version, entry.to_version, entry.reason) == (
        "rollback", "2", "1", "smoke check failed")


def test_rollback_without_a_previous_champion_fails(client):
    promote(decision("1", None), run_id="r1")

    with pytest.raises(AirflowFailException, match="no previous_champion"):
        rollback()
