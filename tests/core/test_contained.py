"""Calls in a child process: results, failures, crashes and hangs, with real child processes."""

from __future__ import annotations

import os
import signal
import time

import pytest

from airflow_mlops.core.contained import ChildFailed, ChildRaised, call_contained, report_stage


def add(a: int, b: int) -> dict:
    return {"sum": a + b, "pid": os.getpid()}


def fail() -> None:
    raise ValueError("bad input")


def crash(sig: int) -> None:
    report_stage("predicting")
    os.kill(os.getpid(), sig)


def exit_quietly() -> None:
    os._exit(3)


def hang() -> None:
    report_stage(f"sleeping in {os.getpid()}")
    time.sleep(3600)


def chatter() -> str:
    return "x" * (2 << 20)


def test_the_result_comes_back_from_another_process():
    result = call_contained(add, 2, 3, time_limit=60)

    assert result["sum"] == 5
    assert result["pid"] != os.getpid()


def test_an_exception_comes_back_as_its_traceback():
    with pytest.raises(ChildRaised, match=r"(?s)Traceback .*ValueError: bad input"):
        call_contained(fail, time_limit=60)


@pytest.mark.parametrize("sig", [signal.SIGSEGV, signal.SIGKILL], ids=["SIGSEGV", "SIGKILL"])
def test_a_crash_fails_the_call_naming_the_signal_and_the_stage(sig):
    with pytest.raises(ChildFailed) as failed:
        call_contained(crash, sig, time_limit=60)

    assert str(failed.value).startswith(f"crashed the process with {signal.Signals(sig).name}")
    assert failed.value.stage == "predicting"


def test_an_exit_without_a_result_fails_the_call():
    with pytest.raises(ChildFailed, match="ended the process with exit code 3 and no answer "
                                          "while loading"):
        call_contained(exit_quietly, time_limit=60, stage="loading")


def test_a_child_past_its_time_limit_is_killed():
    with pytest.raises(ChildFailed, match="did not answer within 2 s") as failed:
        call_contained(hang, time_limit=2)

    if failed.value.stage.startswith("sleeping in "):  # it had started before the limit
        with pytest.raises(ProcessLookupError):
            os.kill(int(failed.value.stage.split()[-1]), 0)


def test_an_oversized_answer_is_refused():
    with pytest.raises(ChildFailed, match="sent more than 1048576 bytes"):
        call_contained(chatter, time_limit=60)


def contained_sum() -> int:
    return call_contained(add, 2, 3, time_limit=60)["sum"]


def multiprocessing_sum() -> int:
    import multiprocessing

    child = multiprocessing.get_context("spawn").Process(target=add, args=(2, 3))
    child.start()
    child.join()
    return child.exitcode


def run_and_report(target, queue) -> None:
    try:
        queue.put(("returned", target()))
    except BaseException as exc:  # report any failure to the test process
        queue.put(("raised", f"{type(exc).__name__}: {exc}"))


def in_a_celery_pool_process(target) -> tuple[str, object]:
    """Run ``target`` in a daemonic billiard process, as Celery's prefork pool runs a task
    (Airflow's task process forks from it and inherits its daemon flag); how it ended."""
    import billiard

    queue = billiard.Queue()
    worker = billiard.Process(target=run_and_report, args=(target, queue), daemon=True)
    worker.start()
    outcome = queue.get(timeout=120)
    worker.join()
    return outcome


def test_a_task_process_of_a_celery_worker_can_call_contained():
    assert in_a_celery_pool_process(contained_sum) == ("returned", 5)
    # Control: multiprocessing refuses to start a child there.
    assert in_a_celery_pool_process(multiprocessing_sum) == (
        "raised", "AssertionError: daemonic processes are not allowed to have children")


def credentials_in_environment() -> list[str]:
    return sorted(name for name in os.environ if name.startswith(("AIRFLOW", "MLFLOW_TRACKING")))


def test_the_child_gets_no_connection_or_credential_from_the_environment(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", "postgresql://u:p@db/x")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "s3cret")

    assert call_contained(credentials_in_environment, time_limit=60) == []
    assert {"AIRFLOW_CONN_WAREHOUSE", "MLFLOW_TRACKING_PASSWORD"} <= set(
        credentials_in_environment())  # control: the caller has them
