"""The monitored-window history in a real MLflow store, and the hysteresis on top of it."""

from __future__ import annotations

import datetime as dt

import pytest

from airflow_mlops.core import registry
from airflow_mlops.core.drift_history import (
    Hysteresis,
    Request,
    Window,
    WindowRecord,
    decide_retrain,
    mark_requested,
    monitoring_experiment,
    recent_windows,
    record_window,
)

EXPERIMENT = "airflow-mlops/churn"
DAY = dt.timedelta(days=1)
START = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)
POLICY = Hysteresis(windows=3, min_drifted=2, cooldown_hours=48)


def window(day: int) -> Window:
    start = START + (day - 1) * DAY
    return Window(start, start + DAY, f"{start:%Y-%m-%d}")


@pytest.fixture
def record(mlflow_session, tmp_path):
    """Record a checked window in a fresh store; artifacts go under tmp_path."""

    def record(day: int, drifted: bool | None, champion: str = "1",
               monitor: str = "drift") -> dict:
        return record_window(
            experiment_name=EXPERIMENT, monitor=monitor, window=window(day), drifted=drifted,
            champion_version=champion, metrics={"share": 0.5},
            files={"report.html": "<p>x</p>"}, report_file="report.html",
            lineage={"dag_id": "drift_monitor_churn", "run_id": f"r{day}"},
            artifact_location=str(tmp_path / "artifacts"),
        )

    return record


def decide(day: int, champion: str = "1", requests: list[Request] = ()) -> object:
    records = recent_windows(EXPERIMENT, "drift", champion, window(day).end, POLICY.windows)
    return decide_retrain(records, window=window(day), hysteresis=POLICY,
                          requests=list(requests))


def runs(client):
    experiment = client.get_experiment_by_name(monitoring_experiment(EXPERIMENT))
    return client.search_runs([experiment.experiment_id])


def test_a_window_is_one_run_even_when_checked_twice(record):
    from mlflow import MlflowClient

    first = record(1, True)
    again = record(1, False)

    client = MlflowClient()
    (run,) = runs(client)
    assert first["run_id"] == again["run_id"] == run.info.run_id
    assert run.data.tags[registry.tag("drifted")] == "false"
    assert run.data.tags[registry.tag("window_key")] == window(1).key
    assert run.data.tags[registry.tag("run_id")] == "r1"
    assert run.info.status == "FINISHED"
    assert again["report"].endswith("/drift/report.html")


def test_recent_windows_newest_first_up_to_the_window_and_for_one_champion(record):
    for day, drifted in [(1, False), (2, True), (3, True), (5, True)]:
        record(day, drifted)
    record(4, True, champion="2")
    record(6, None)
    record(3, True, monitor="quality")

    records = recent_windows(EXPERIMENT, "drift", "1", window(5).end, 10)

    assert [r.key for r in records] == [window(d).key for d in (5, 3, 2, 1)]
    assert [r.drifted for r in records] == [True, True, True, False]
    assert recent_windows(EXPERIMENT, "drift", "1", window(3).end, 2)[0].end == window(3).end
    assert recent_windows("airflow-mlops/unknown", "drift", "1", window(3).end, 3) == []


def test_n_of_m_windows_must_have_drifted(record):
    record(1, True)
    record(2, False)

    first = decide(2)
    assert not first.requested and first.reason == "this window has not drifted"

    record(3, True)
    decision = decide(3)
    assert decision.requested
    assert decision.reason == "2 of the last 3 windows drifted (2 of 3 needed)"
    assert (decision.drifted_windows, decision.windows) == (2, 3)

    record(4, False)
    record(5, False)
    record(6, True)
    late = decide(6)
    assert not late.requested
    assert late.reason.startswith("1 of the last 3 windows drifted")


def test_a_new_champion_resets_the_evidence(record):
    record(1, True)
    record(2, True)
    record(3, True, champion="2")

    assert decide(2).requested
    decision = decide(3, champion="2")
    assert not decision.requested and decision.drifted_windows == 1


def test_cooldown_after_a_request(record):
    for day in (1, 2, 3, 4, 5):
        record(day, True)
    requested = [Request(window(2).key, window(2).end)]

    blocked = decide(3, requests=requested)
    assert not blocked.requested
    assert "within the 48 h cooldown" in blocked.reason
    assert not decide(4, requests=requested).requested, "48 h after the request: inclusive"
    assert decide(5, requests=requested).requested
    assert not decide(1, requests=requested).requested, "a backfill is cooled down too"


def test_a_window_requests_at_most_once(record):
    record(1, True)
    record(2, True)

    decision = decide(2, requests=[Request(window(2).key, window(2).end)])

    assert not decision.requested
    assert decision.reason == "a retrain was already requested for this window"


def test_decay_wording_and_requests_are_noted_on_the_run(record):
    from mlflow import MlflowClient

    record(1, True, monitor="quality")
    records = recent_windows(EXPERIMENT, "quality", "1", window(1).end, 3)
    decision = decide_retrain(records, window=window(1), requests=[], what="decayed",
                              hysteresis=Hysteresis(windows=1, min_drifted=1))
    assert decision.requested and "windows decayed" in decision.reason

    mark_requested(EXPERIMENT, "quality", window(1))
    (run,) = runs(MlflowClient())
    assert run.data.tags[registry.tag("retrain_requested")] == "true"


@pytest.mark.parametrize("drifted, expected", [([True, True, False], True),
                                                ([True, False, False], False)])
def test_decide_retrain_on_plain_records(drifted, expected):
    records = [WindowRecord(window(d).key, window(d).end, flag)
               for d, flag in zip((3, 2, 1), drifted, strict=True)]

    decision = decide_retrain(records, window=window(3), hysteresis=POLICY, requests=[])

    assert decision.requested is expected


@pytest.fixture
def digests(mlflow_session, tmp_path):
    """remembered_digest of tmp_path/ref.csv; ``computed`` counts the real hashings."""
    from airflow_mlops.core.drift_history import remembered_digest
    from airflow_mlops.core.io import file_digest, file_version

    path = tmp_path / "ref.csv"
    computed = []

    def digest() -> str:
        def compute() -> str:
            computed.append(1)
            return file_digest(path)

        digest, remember = remembered_digest(EXPERIMENT, str(path), file_version(path),
                                             compute, str(tmp_path / "artifacts"))
        remember()
        return digest

    return path, digest, computed


def age(path, seconds: float) -> None:
    """Set the file's modification time ``seconds`` into the past."""
    import os
    import time

    then = time.time() - seconds
    os.utime(path, (then, then))


def test_a_digest_is_computed_again_only_for_a_rewritten_file(digests):
    from airflow_mlops.core.io import file_digest

    path, digest, computed = digests
    path.write_text("a,b\n1,2\n")
    age(path, 60)

    first = digest()
    assert (first, digest(), digest()) == (file_digest(path), first, first)
    assert len(computed) == 1

    path.write_text("a,b\n1,3\n")  # same size, new bytes, new modification time
    age(path, 30)
    assert digest() == file_digest(path) != first
    assert len(computed) == 2


def test_a_file_modified_just_before_hashing_is_hashed_every_time(digests):
    path, digest, computed = digests
    path.write_text("a,b\n1,2\n")  # modified now: it could change again unseen

    digest(), digest()

    assert len(computed) == 2


def test_a_file_without_a_version_is_hashed_every_time(mlflow_session):
    from airflow_mlops.core.drift_history import remembered_digest

    computed = []
    for _ in range(2):
        remembered_digest(EXPERIMENT, "s3://bucket/ref.csv", None,
                          lambda: computed.append(1) or "d1g3st")

    assert computed == [1, 1]


def test_a_digest_is_remembered_only_when_asked_to(mlflow_session, tmp_path):
    from airflow_mlops.core.drift_history import remembered_digest
    from airflow_mlops.core.io import file_version

    path = tmp_path / "ref.csv"
    path.write_text("a,b\n1,2\n")
    age(path, 60)
    computed = []

    def digest(remember: bool) -> None:
        _, remembering = remembered_digest(EXPERIMENT, str(path), file_version(path),
                                           lambda: computed.append(1) or "d1g3st")
        if remember:
            remembering()

    digest(False), digest(True), digest(True)

    assert computed == [1, 1]  # forgotten once, then remembered
