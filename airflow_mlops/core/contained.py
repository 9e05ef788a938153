"""Running a model in a child process, so a crash or a hang fails one call, never the caller.

A model's files can pass every loading check and still take the process down: a forged tree
whose child index points outside its node array makes scikit-learn's compiled code read
arbitrary memory (a segmentation fault); one whose node points back at itself never returns.
:func:`call_contained` runs such work in a fresh interpreter (``python -m
airflow_mlops.core.contained``), never a fork of the caller, which may hold threads and locks,
and never through ``multiprocessing``, which refuses to start children from a Celery pool
worker's task processes (they inherit the pool process's daemon flag). It waits for the
child at most ``time_limit`` seconds, then kills it.

The child gets the call on its stdin, pickled by this process, and a minimal environment:
no connection, credential or Airflow setting reaches the model's process. It reports what it
is doing (:func:`report_stage`) and its result as JSON on a pipe of its own: nothing it sends
is unpickled, and what it prints goes to the caller's log.
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

MAX_MESSAGE_BYTES = 1 << 20
# What a Python process needs to run; everything else in the caller's environment stays there.
CHILD_ENVIRONMENT = ("PATH", "HOME", "LANG", "LANGUAGE", "TMPDIR", "TZ", "VIRTUAL_ENV",
                     "PYTHONPATH", "MLFLOW_ENABLE_TELEMETRY", "DO_NOT_TRACK")

_channel: Connection | None = None  # the child's end of the pipe, set in the child only


class ChildFailed(Exception):
    """The child gave no result: it crashed, was killed, exited, or ran out of time.

    ``reason`` says how it ended ("crashed the process with SIGSEGV", "did not answer within
    300 s"); ``stage`` is the last stage it reported.
    """

    def __init__(self, reason: str, stage: str) -> None:
        super().__init__(f"{reason} while {stage}")
        self.reason = reason
        self.stage = stage


class ChildRaised(Exception):
    """The called function raised; the message is the child's traceback, as text."""


def report_stage(stage: str) -> None:
    """In a child of :func:`call_contained`, say what it is doing now (e.g. ``predicting``)."""
    if _channel is not None:
        _channel.send_bytes(json.dumps({"stage": stage}).encode())


def _ending(exit_code: int | None) -> str:
    if exit_code is None:
        return "closed its channel but kept running"
    if exit_code < 0:
        name = signal.Signals(-exit_code).name
        hint = " (out of memory, or killed)" if name == "SIGKILL" else ""
        return f"crashed the process with {name}{hint}"
    return f"ended the process with exit code {exit_code} and no answer"


def _child_environment() -> dict[str, str]:
    return {name: value for name, value in os.environ.items()
            if name in CHILD_ENVIRONMENT or name.startswith("LC_")}


def call_contained(function: Callable[..., Any], *args: Any, time_limit: float,
                   stage: str = "starting") -> Any:
    """``function(*args)`` run in a child process; its JSON result.

    ``function`` must be importable by name (with this process's ``sys.path``), ``args``
    picklable. ``stage`` names what the child does until it calls :func:`report_stage`.

    :raises ChildFailed: the child ended without a result or was still running after
        ``time_limit`` seconds (it is then killed).
    :raises ChildRaised: ``function`` raised.
    """
    deadline = time.monotonic() + time_limit
    read_end, write_end = os.pipe()
    receiver = Connection(read_end, writable=False)
    try:
        child = subprocess.Popen(
            [sys.executable, "-m", __name__, str(write_end)], stdin=subprocess.PIPE,
            pass_fds=(write_end,), env=_child_environment(), close_fds=True,
        )
    finally:
        os.close(write_end)
    try:
        try:
            with child.stdin:
                pickle.dump(list(sys.path), child.stdin)
                pickle.dump((function, args), child.stdin)
        except BrokenPipeError:  # it died before reading the call: see how it ended below
            pass
        while receiver.poll(max(deadline - time.monotonic(), 0)):
            try:
                message = json.loads(receiver.recv_bytes(MAX_MESSAGE_BYTES))
            except EOFError:  # the child ended without a result
                try:
                    child.wait(max(deadline - time.monotonic(), 0))
                except subprocess.TimeoutExpired:
                    pass
                raise ChildFailed(_ending(child.returncode), stage) from None
            except OSError:  # longer than MAX_MESSAGE_BYTES
                raise ChildFailed(f"sent more than {MAX_MESSAGE_BYTES} bytes", stage) from None
            if "stage" in message:
                stage = message["stage"]
            elif "raised" in message:
                raise ChildRaised(message["raised"])
            else:
                return message["result"]
        raise ChildFailed(f"did not answer within {time_limit:g} s", stage)
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
        receiver.close()


def child_main(write_end: int) -> None:
    """The child's side: read the call from stdin, answer on the pipe ``write_end``."""
    global _channel
    _channel = Connection(write_end, readable=False)
    sys.path[:] = pickle.load(sys.stdin.buffer)
    try:
        function, args = pickle.load(sys.stdin.buffer)
        message = {"result": function(*args)}
    except Exception:  # the caller decides what a failure means; it gets the traceback
        message = {"raised": traceback.format_exc()}
    _channel.send_bytes(json.dumps(message).encode())


if __name__ == "__main__":  # run as a script, this module is not the one report_stage is in
    from airflow_mlops.core import contained

    contained.child_main(int(sys.argv[1]))
