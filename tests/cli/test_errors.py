"""An MLflow the CLI cannot use: one line naming the URI and the cause, exit code 2.

Against a port nobody listens on, and a real HTTP server (in a thread) that refuses.
"""

from __future__ import annotations

import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from airflow_mlops.cli.common import EXIT_UNUSABLE
from airflow_mlops.cli.errors import QUICK_MLFLOW
from airflow_mlops.cli.main import main

COMMANDS = {
    "status": ["status", "churn"],
    "history": ["history", "churn"],
    "rollback": ["rollback", "churn", "--reason", "bad"],
    "trust": ["trust", "churn", "3", "--reason", "reviewed"],
}


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def refusing_server():
    """``refusing_server(status, body, delay=0)``: the URL of a server answering every request
    so, after ``delay`` seconds."""
    servers = []

    def start(status: int, body: str, delay: float = 0) -> str:
        class Refuse(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                time.sleep(delay)
                payload = body.encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up
                    pass

            do_POST = do_PATCH = do_DELETE = do_GET

            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
        server.daemon_threads = False  # server_close waits for every answer
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def run(capsys, uri: str, argv: list[str]) -> tuple[int, str, str]:
    code = main(["models", *argv, "--tracking-uri", uri])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("command", COMMANDS)
def test_an_unreachable_server_is_one_line_naming_it(capsys, closed_port, command):
    uri = f"http://127.0.0.1:{closed_port}"

    code, out, err = run(capsys, uri, COMMANDS[command])

    assert (code, out) == (EXIT_UNUSABLE, "")
    assert err == f"error: MLflow at {uri}: connection refused\n"


@pytest.mark.parametrize(("status", "body", "cause"), [
    (403, "<html><body><h1>Forbidden</h1>\n</body></html>", "answered HTTP 403 Forbidden"),
    (500, "oops", "answered HTTP 500 Internal Server Error"),
    (403, json.dumps({"error_code": "PERMISSION_DENIED", "message": "no access to churn"}),
     "PERMISSION_DENIED: no access to churn"),
], ids=["403-html", "500", "403-mlflow-json"])
@pytest.mark.parametrize("command", ["status", "trust"])
def test_a_refusing_server_is_one_line_naming_it_and_its_answer(capsys, refusing_server,
                                                                 status, body, cause, command):
    uri = refusing_server(status, body)

    code, out, err = run(capsys, uri, COMMANDS[command])

    assert (code, out) == (EXIT_UNUSABLE, "")
    assert err == f"error: MLflow at {uri}: {cause}\n"


def test_a_server_that_does_not_answer_in_time_is_one_line(capsys, refusing_server,
                                                            monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "1")
    uri = refusing_server(200, "{}", delay=3)

    code, out, err = run(capsys, uri, ["status", "churn"])

    assert (code, out) == (EXIT_UNUSABLE, "")
    assert err == f"error: MLflow at {uri}: no answer within 1 s\n"


def test_a_password_in_the_uri_is_not_printed(capsys, closed_port):
    code, _, err = run(capsys, f"http://svc:s3cret@127.0.0.1:{closed_port}", ["status", "churn"])

    assert code == EXIT_UNUSABLE
    assert err == f"error: MLflow at http://svc:***@127.0.0.1:{closed_port}: connection refused\n"


def test_the_quick_retry_settings_last_for_the_command_only(capsys, closed_port, monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")  # the user's own setting stays

    run(capsys, f"http://127.0.0.1:{closed_port}", ["status", "churn"])

    assert os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "30"
    assert [name for name in QUICK_MLFLOW if name in os.environ] == [
        "MLFLOW_HTTP_REQUEST_TIMEOUT"]


def test_an_undefined_connection_is_one_line(capsys):
    code = main(["models", "status", "churn", "--conn-id", "no_such_connection"])

    assert code == EXIT_UNUSABLE
    assert capsys.readouterr().err == (
        "error: Airflow connection 'no_such_connection' is not defined\n")


def test_the_installed_command_prints_no_traceback(closed_port, refusing_server):
    """Control: MLflow's own client raises its long message, which Python prints with a
    traceback."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    uri = refusing_server(403, "<html>Forbidden</html>")
    with pytest.MonkeyPatch.context() as patch, pytest.raises(MlflowException) as raised:
        patch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        MlflowClient(uri).get_registered_model("churn")
    assert str(raised.value).startswith("API request to endpoint /api/2.0/mlflow/registered-"
                                        "models/get failed with error code 403 != 200")

    command = [sys.executable, "-m", "airflow_mlops.cli", "models", "status", "churn",
               "--tracking-uri", uri]
    done = subprocess.run(command, capture_output=True, text=True)

    assert done.returncode == EXIT_UNUSABLE
    assert done.stderr == f"error: MLflow at {uri}: answered HTTP 403 Forbidden\n"
