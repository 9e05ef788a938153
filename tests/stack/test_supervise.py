"""The stack's supervisor starts a component again when it exits on its own, and not when the
stack stops it (runs without the stack: no ``stack`` marker)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

STACK = Path(__file__).resolve().parents[2] / "stack" / "stack.py"


def test_a_component_that_exits_is_started_again_and_a_stopped_one_is_not(tmp_path):
    runs = tmp_path / "runs"
    # Exits with 3 the first time, stays up the second.
    flaky = f'echo run >> {runs}; [ "$(wc -l < {runs})" -ge 2 ] && exec sleep 60; exit 3'
    log = tmp_path / "flaky.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, str(STACK), "supervise", "flaky",
                                 "sh", "-c", flaky], stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while not (runs.exists() and len(runs.read_text().split()) == 2):
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        assert "flaky exited with code 3 after 0s; starting it again in 2s" in log.read_text()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # what `stack.py stop` sends
    assert proc.wait(timeout=10) == -signal.SIGTERM
    assert len(runs.read_text().split()) == 2, "started again after a stop"


def test_supervise_without_a_command_says_how_to_call_it():
    done = subprocess.run([sys.executable, str(STACK), "supervise", "flaky"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    assert "usage: stack.py supervise NAME COMMAND" in done.stderr
