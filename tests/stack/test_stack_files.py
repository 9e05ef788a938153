"""The stack's secret files and listeners, from its own functions (runs without the stack: no
``stack`` marker)."""

from __future__ import annotations

import importlib.util
import json
import os
import stat
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

STACK = Path(__file__).resolve().parents[2] / "stack" / "stack.py"
LOOPBACK = "127.0.0.1"


@pytest.fixture
def stack(tmp_path, monkeypatch):
    """``stack/stack.py`` as a module, with its STACK_DIR in tmp_path and a wide umask."""
    spec = importlib.util.spec_from_file_location("stack_under_test", STACK)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "STACK_DIR", tmp_path / "stack")
    previous = os.umask(0o022)  # what most shells have: files readable by everyone
    yield module
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_secret_files_are_readable_by_their_owner_only(stack, tmp_path):
    state = stack.load_state()
    stack.write_env_files(stack.environment(state))

    written = {name: mode(stack.STACK_DIR / name)
               for name in ("stack.json", "env.sh", "env.json")}
    assert written == {"stack.json": 0o600, "env.sh": 0o600, "env.json": 0o600}
    assert state["fernet_key"] in (stack.STACK_DIR / "env.json").read_text()
    plain = tmp_path / "plain.txt"
    plain.write_text("x")  # control: under this umask a file is readable by everyone
    assert mode(plain) == 0o644


def test_a_secret_file_is_never_open_at_the_umask_s_mode(stack, tmp_path, monkeypatch):
    """Every file the stack creates with a secret starts at 0600 (os.open's mode argument),
    rather than being created at 0644 and narrowed after."""
    created = []
    real_open = os.open

    def watch(path, flags, mode=0o777, *args, **kwargs):
        if flags & os.O_CREAT:
            created.append((Path(path).name, mode))
        return real_open(path, flags, mode, *args, **kwargs)

    monkeypatch.setattr(os, "open", watch)
    stack.load_state()
    stack.write_env_files({"AIRFLOW__CORE__FERNET_KEY": "k"})
    stack.write_secret(tmp_path / "passwords.json", json.dumps({"admin": "p"}))

    assert created == [(".stack.json.new", 0o600), (".env.sh.new", 0o600),
                       (".env.json.new", 0o600), (".passwords.json.new", 0o600)]


def test_an_older_readable_secret_file_is_replaced_not_rewritten(stack, tmp_path):
    old = tmp_path / "env.sh"
    old.write_text("export OLD=1\n")
    assert mode(old) == 0o644

    stack.write_secret(old, "export NEW=1\n")

    assert (mode(old), old.read_text()) == (0o600, "export NEW=1\n")
    assert [p.name for p in tmp_path.iterdir()] == ["env.sh"]


def test_every_component_listens_on_loopback_only(stack):
    state = stack.load_state()
    env = stack.environment(state)
    commands = stack.commands(state)

    assert env["AIRFLOW__API__HOST"] == LOOPBACK
    assert env["AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST"] == LOOPBACK
    urls = [v for k, v in env.items() if k.endswith("_URL") and v.startswith("http")]
    assert len(urls) == 4  # the api-server (its execution API too) and MLflow, for clients
    assert {urlsplit(url).hostname for url in urls} == {LOOPBACK}
    mlflow = commands["mlflow"]
    assert mlflow[mlflow.index("--host") + 1] == LOOPBACK
    # Airflow's own log servers bind every interface: the worker and triggerer start without
    # them, and the stack's log server on loopback serves their logs on the configured port.
    assert "--skip-serve-logs" in commands["worker"]
    assert "--skip-serve-logs" in commands["triggerer"]
    logs = commands["log-server"]
    assert logs[logs.index("--host") + 1] == LOOPBACK
    assert logs[logs.index("--port") + 1] == env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] \
        == env["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"]
    assert set(commands) == set(stack.COMPONENTS)


def test_a_stack_json_of_an_older_stack_keeps_its_log_port(stack):
    stack.STACK_DIR.mkdir(parents=True)
    state = {**json.loads(json.dumps(stack.load_state())), "worker_log_port": 18793}
    del state["log_port"]

    assert stack.environment(state)["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] == "18793"
