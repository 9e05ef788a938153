"""Running a model in a child process, so a crash or a hang fails one call, never the caller.

A model's files can pass every loading check and still take the process down: a forged tree
whose child index points outside its node array makes scikit-learn's compiled code read
arbitrary memory (a segmentation fault); one whose node points back at itself never returns.
:func:`call_contained` runs such work in a fresh interpreter, started by a ``forkserver``
(never forked from the caller, which may hold threads and locks: Celery and Airflow task
processes do), and waits for it at most ``time_limit`` seconds. The child reports what it
is doing (:func:`report_stage`) and its result as JSON: nothing it sends is unpickled.
"""

from __future__ import annotations

import json
import multiprocessing
import signal
import time
import traceback
from collections.abc import Callable
from typing import Any

# Imported once by the forkserver, so each child starts with them instead of importing them.
PRELOADED_MODULES = ["pandas", "sklearn", "skops.io", "mlflow.pyfunc", "mlflow.sklearn"]
MAX_MESSAGE_BYTES = 1 << 20

_channel = None  # the child's end of the pipe, set in the child only


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


def _child_main(channel, function: Callable[..., Any], args: tuple) -> None:
    global _channel
    _channel = channel
    try:
        message = {"result": function(*args)}
    except Exception:  # the caller decides what a failure means; it gets the traceback
        message = {"raised": traceback.format_exc()}
    channel.send_bytes(json.dumps(message).encode())


def _ending(exit_code: int | None) -> str:
    if exit_code is None:
        return "closed its channel but kept running"
    if exit_code < 0:
        name = signal.Signals(-exit_code).name
        hint = " (out of memory, or killed)" if name == "SIGKILL" else ""
        return f"crashed the process with {name}{hint}"
    return f"ended the process with exit code {exit_code} and no answer"


def call_contained(function: Callable[..., Any], *args: Any, time_limit: float,
                   stage: str = "starting") -> Any:
    """``function(*args)`` run in a child process; its JSON result.

    ``function`` must be importable by name, ``args`` picklable. ``stage`` names what the
    child does until it calls :func:`report_stage`.

    :raises ChildFailed: the child ended without a result or was still running after
        ``time_limit`` seconds (it is then killed).
    :raises ChildRaised: ``function`` raised.
    """
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOADED_MODULES)
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child_main, args=(sender, function, args), daemon=True,
                              name="airflow-mlops-contained")
    deadline = time.monotonic() + time_limit
    try:
        process.start()
        sender.close()
        while receiver.poll(max(deadline - time.monotonic(), 0)):
            try:
                message = json.loads(receiver.recv_bytes(MAX_MESSAGE_BYTES))
            except EOFError:  # the child ended without a result
                process.join(max(deadline - time.monotonic(), 0))
                raise ChildFailed(_ending(process.exitcode), stage) from None
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
        if process.is_alive():
            process.kill()
        if process.pid is not None:
            process.join()
        receiver.close()
