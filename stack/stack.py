"""The production-like stack: CeleryExecutor Airflow + PostgreSQL + Redis + an MLflow server.

    python stack/stack.py up        # start everything (idempotent: running parts are kept)
    python stack/stack.py down      # stop everything this script started (idempotent)
    python stack/stack.py status    # which processes run, and the URLs
    python stack/stack.py purge     # down, then drop the two databases and delete .stack/
    python stack/stack.py restart worker triggerer   # stop and start some components
    python stack/stack.py stop mlflow                # stop some (fault injection) ...
    python stack/stack.py start mlflow               # ... and start them again
    python stack/stack.py kill worker                # SIGKILL them (fault injection)

PostgreSQL and Redis are not started here: point the stack at yours with
``STACK_PG_URL`` (default ``postgresql://postgres@127.0.0.1:5432``; the databases
``airflow_mlops_airflow`` and ``airflow_mlops_mlflow`` are created in it if missing) and
``STACK_REDIS_URL`` (default ``redis://127.0.0.1:6379/3``). Everything else lives in
``STACK_DIR`` (default ``.stack/``, git-ignored): the Airflow home, MLflow artifacts, the
nightly data partitions, logs, pids, and ``stack.json``/``env.sh`` that say how to reach it.

Processes: ``mlflow server`` (PostgreSQL backend store, proxied artifact store), and Airflow's
api-server (1 worker), scheduler, dag-processor, triggerer, one Celery worker
(concurrency ``STACK_WORKER_CONCURRENCY``, default 2) and the log server that serves the
worker's and the triggerer's logs. Every one listens on 127.0.0.1 only: Airflow's own log
servers bind every interface, so the worker and triggerer start without theirs and one log
server on loopback serves both (they share the log folder; the api-server fetches running
tasks' logs from the worker's hostname, which must resolve to loopback, as ``localhost``
does). Files holding a secret (``stack.json``, ``env.sh``, ``env.json``, ``passwords.json``)
are created readable by their owner only. Each runs in its own session so that
``down`` stops it and its children by process-group id, nothing else, and under
``stack.py supervise``, which starts it again when it exits on its own, as systemd's
``Restart=always`` or a Kubernetes pod would: Airflow's scheduler, dag-processor and triggerer
exit when their metadata DB connection drops mid-query and count on that.

The scheduler does not create cron runs (``[scheduler] use_job_schedule = False``,
``STACK_USE_JOB_SCHEDULE=true`` to change it): the stack runs exactly the DAG runs you
trigger (REST API, UI or CLI), which is what the stack tests need.

Two DAG bundles: ``dags-folder`` (the repository's ``dags/``) and ``stack-tests``
(``tests/stack/dags/``: DAGs only the stack tests and ``bench/stack_load.py`` run, paused at
creation like every DAG here), only with ``STACK_TEST_DAGS=1`` (``make test-stack`` sets it).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STACK_DIR = Path(os.environ.get("STACK_DIR", REPO / ".stack")).resolve()
PG_URL = os.environ.get("STACK_PG_URL", "postgresql://postgres@127.0.0.1:5432").rstrip("/")
REDIS_URL = os.environ.get("STACK_REDIS_URL", "redis://127.0.0.1:6379/3")
AIRFLOW_DB = "airflow_mlops_airflow"
MLFLOW_DB = "airflow_mlops_mlflow"
BIN = Path(sys.executable).parent
ADMIN = "admin"
TEST_DAGS = REPO / "tests" / "stack" / "dags"
# Order of start; stop goes in reverse.
COMPONENTS = ("mlflow", "api-server", "scheduler", "dag-processor", "log-server", "triggerer",
              "worker")
LOOPBACK = "127.0.0.1"
# A supervised component that keeps dying within STEADY_SECONDS is started again after 2, 4,
# 8 ... seconds, and given up after GIVE_UP_AFTER such exits in a row.
STEADY_SECONDS = 60
GIVE_UP_AFTER = 5


def log(message: str) -> None:
    print(f"[stack] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def write_secret(path: Path, text: str) -> None:
    """Write ``text`` to ``path``, readable by its owner only from the moment it exists.

    A new file is created with mode 0600 (never first at the umask's mode, then changed), then
    renamed over ``path``, so an older, more open file is replaced rather than rewritten.
    """
    fresh = path.with_name(f".{path.name}.new")
    fresh.unlink(missing_ok=True)
    descriptor = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
    os.replace(fresh, path)


def state_file() -> Path:
    return STACK_DIR / "stack.json"


def load_state() -> dict:
    """Ports and secrets, chosen once per STACK_DIR and kept, so a restart keeps its URLs."""
    if state_file().exists():
        return json.loads(state_file().read_text())
    from cryptography.fernet import Fernet

    state = {
        "api_port": int(os.environ.get("STACK_API_PORT") or free_port()),
        "mlflow_port": int(os.environ.get("STACK_MLFLOW_PORT") or free_port()),
        "log_port": free_port(),
        "jwt_secret": secrets.token_urlsafe(32),
        "api_secret_key": secrets.token_urlsafe(32),
        "fernet_key": Fernet.generate_key().decode(),
        "admin_password": secrets.token_urlsafe(16),
        # A secret the MLflow connection carries: the stack tests check it never reaches a log.
        "mlflow_password": "stk-" + secrets.token_urlsafe(18),
    }
    STACK_DIR.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_secret(state_file(), json.dumps(state, indent=2))
    return state


def sqlalchemy_url(database: str, driver: str = "postgresql+psycopg2") -> str:
    scheme, rest = PG_URL.split("://", 1)
    return f"{driver}://{rest}/{database}"


def dag_bundles() -> list[dict]:
    """The repository's dags/, and the stack tests' DAGs with ``STACK_TEST_DAGS=1``."""
    local = "airflow.dag_processing.bundles.local.LocalDagBundle"
    bundles = [{"name": "dags-folder", "classpath": local, "kwargs": {"path": str(REPO / "dags")}}]
    if os.environ.get("STACK_TEST_DAGS", "0").lower() in ("1", "true", "yes"):
        bundles.append({"name": "stack-tests", "classpath": local,
                        "kwargs": {"path": str(TEST_DAGS)}})
    return bundles


def environment(state: dict) -> dict[str, str]:
    """Everything Airflow, MLflow and the tests need, as environment variables."""
    home = STACK_DIR / "airflow"
    api = f"http://{LOOPBACK}:{state['api_port']}"
    mlflow_url = f"http://{LOOPBACK}:{state['mlflow_port']}"
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps(dag_bundles()),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CORE__FERNET_KEY": state["fernet_key"],
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api}/execution/",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sqlalchemy_url(AIRFLOW_DB),
        "AIRFLOW__CELERY__BROKER_URL": REDIS_URL,
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + sqlalchemy_url(AIRFLOW_DB),
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": os.environ.get("STACK_WORKER_CONCURRENCY", "2"),
        # The worker imports MLflow, scikit-learn, GX and pandas once; task processes fork
        # from it with them loaded instead of importing them again per task.
        "AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS": "airflow_mlops.worker_preload.CELERY_CONFIG",
        "AIRFLOW__API__HOST": LOOPBACK,
        "AIRFLOW__API__PORT": str(state["api_port"]),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API__BASE_URL": api,
        "AIRFLOW__API__SECRET_KEY": state["api_secret_key"],
        "AIRFLOW__API_AUTH__JWT_SECRET": state["jwt_secret"],
        # Where the api-server fetches running tasks' logs: the log server of the stack.
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(log_port(state)),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(log_port(state)),
        # Off by default; on loopback if someone turns it on.
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST": LOOPBACK,
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": os.environ.get("STACK_USE_JOB_SCHEDULE", "False"),
        # A task whose worker died is noticed after 60 s (default 300 s) and retried.
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "60",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "30",
        # Credentials reach tasks only through this connection (a secrets backend in production).
        "AIRFLOW_CONN_MLFLOW_DEFAULT": json.dumps({
            "conn_type": "mlflow",
            "host": mlflow_url,
            "login": "airflow",
            "password": state["mlflow_password"],
        }),
        "AIRFLOW_MLOPS_DATA_ROOT": str(STACK_DIR / "data"),
        "GX_ANALYTICS_ENABLED": "False",
        "MLFLOW_ENABLE_TELEMETRY": "false",
        "DO_NOT_TRACK": "true",
        "STACK_API_URL": api,
        "STACK_MLFLOW_URL": mlflow_url,
        "STACK_ADMIN_USER": ADMIN,
        "STACK_ADMIN_PASSWORD": state["admin_password"],
        "STACK_DIR": str(STACK_DIR),
    }


def log_port(state: dict) -> int:
    """The log server's port (``worker_log_port`` in a stack.json written before it had one)."""
    return state.get("log_port") or state["worker_log_port"]


def started_environment() -> dict[str, str]:
    """The environment ``up`` started the stack with (its DAG bundles included), else a new one."""
    saved = STACK_DIR / "env.json"
    return json.loads(saved.read_text()) if saved.exists() else environment(load_state())


def write_env_files(env: dict[str, str]) -> None:
    lines = [f"export {key}={shlex_quote(value)}" for key, value in sorted(env.items())]
    write_secret(STACK_DIR / "env.sh", "\n".join(lines) + "\n")
    write_secret(STACK_DIR / "env.json", json.dumps(env, indent=2))


def shlex_quote(value: str) -> str:
    import shlex

    return shlex.quote(value)


def ensure_databases() -> None:
    import psycopg2

    conn = psycopg2.connect(f"{PG_URL}/postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        for name in (AIRFLOW_DB, MLFLOW_DB):
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cur.fetchone() is None:
                cur.execute(f'CREATE DATABASE "{name}"')
                log(f"created database {name}")
    conn.close()


def drop_databases() -> None:
    import psycopg2

    conn = psycopg2.connect(f"{PG_URL}/postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        for name in (AIRFLOW_DB, MLFLOW_DB):
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            log(f"dropped database {name}")
    conn.close()


def pid_file(name: str) -> Path:
    return STACK_DIR / "pids" / f"{name}.pid"


def running_pid(name: str) -> int | None:
    path = pid_file(name)
    if not path.exists():
        return None
    pid = int(path.read_text().strip())
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    return pid


def commands(state: dict) -> dict[str, list[str]]:
    artifacts = STACK_DIR / "mlflow-artifacts"
    return {
        "mlflow": [
            str(BIN / "mlflow"), "server",
            "--backend-store-uri", sqlalchemy_url(MLFLOW_DB),
            "--artifacts-destination", str(artifacts),
            "--serve-artifacts",
            "--host", LOOPBACK, "--port", str(state["mlflow_port"]),
            "--workers", "1",
        ],
        "api-server": [str(BIN / "airflow"), "api-server"],
        "scheduler": [str(BIN / "airflow"), "scheduler"],
        "dag-processor": [str(BIN / "airflow"), "dag-processor"],
        "log-server": [
            sys.executable, "-m", "uvicorn", "airflow.utils.serve_logs.log_server:get_app",
            "--factory", "--host", LOOPBACK, "--port", str(log_port(state)), "--no-access-log",
        ],
        "triggerer": [str(BIN / "airflow"), "triggerer", "--skip-serve-logs"],
        "worker": [str(BIN / "airflow"), "celery", "worker", "--skip-serve-logs",
                   "--concurrency", os.environ.get("STACK_WORKER_CONCURRENCY", "2")],
    }


def start(name: str, command: list[str], env: dict[str, str]) -> None:
    if (pid := running_pid(name)) is not None:
        log(f"{name} already running (pid {pid})")
        return
    (STACK_DIR / "logs").mkdir(parents=True, exist_ok=True)
    (STACK_DIR / "pids").mkdir(parents=True, exist_ok=True)
    out = open(STACK_DIR / "logs" / f"{name}.log", "ab")
    supervised = [sys.executable, str(Path(__file__).resolve()), "supervise", name, *command]
    proc = subprocess.Popen(supervised, env={**os.environ, **env}, stdout=out,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True, cwd=STACK_DIR)
    pid_file(name).write_text(str(proc.pid))
    log(f"started {name} (pid {proc.pid}), log .stack/logs/{name}.log")


def supervise(name: str, command: list[str]) -> int:
    """Run a component, and again whenever it exits (SIGTERM from ``stop`` ends us too)."""
    quick_exits = 0
    while True:
        started = time.monotonic()
        code = subprocess.call(command)
        ran = time.monotonic() - started
        quick_exits = quick_exits + 1 if ran < STEADY_SECONDS else 0
        if quick_exits >= GIVE_UP_AFTER:
            log(f"{name} exited {quick_exits} times in a row within {STEADY_SECONDS}s; giving up")
            return code or 1
        delay = 2 ** max(quick_exits, 1)
        log(f"{name} exited with code {code} after {ran:.0f}s; starting it again in {delay}s")
        time.sleep(delay)


def stop(name: str, timeout: float = 30) -> None:
    """Stop a component and its children: SIGTERM to its process group, then SIGKILL."""
    pid = running_pid(name)
    if pid is None:
        pid_file(name).unlink(missing_ok=True)
        return
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and group_alive(pid):
        time.sleep(0.3)
    if group_alive(pid):
        log(f"{name} did not stop in {timeout:.0f}s; SIGKILL")
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    pid_file(name).unlink(missing_ok=True)
    log(f"stopped {name} (pid {pid})")


def kill(name: str) -> None:
    """SIGKILL a component and its children at once (fault injection): no graceful shutdown."""
    pid = running_pid(name)
    if pid is None:
        return
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and group_alive(pid):
        time.sleep(0.2)
    pid_file(name).unlink(missing_ok=True)
    log(f"killed {name} (process group {pid})")


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    # Zombies of our own children count as gone.
    try:
        os.waitpid(pgid, os.WNOHANG)
    except ChildProcessError:
        pass
    try:
        state = Path(f"/proc/{pgid}/stat").read_text().split()[2]
        return state != "Z" or _other_members(pgid)
    except FileNotFoundError:
        return _other_members(pgid)


def _other_members(pgid: int) -> bool:
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def http_ok(url: str, timeout: float = 3) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def wait_for(what: str, check, timeout: float, name: str | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            log(f"{what}: ready")
            return
        if name is not None and running_pid(name) is None:
            raise SystemExit(f"[stack] {name} exited; see {STACK_DIR / 'logs' / (name + '.log')}")
        time.sleep(1)
    raise SystemExit(f"[stack] {what} not ready after {timeout:.0f}s; see {STACK_DIR / 'logs'}")


def airflow_health(env: dict[str, str]) -> dict:
    try:
        url = env["STACK_API_URL"] + "/api/v2/monitor/health"
        with urllib.request.urlopen(url, timeout=3) as response:
            return json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError):
        return {}


def healthy(health: dict, component: str) -> bool:
    return (health.get(component) or {}).get("status") == "healthy"


def worker_ready(env: dict[str, str]) -> bool:
    log_file = STACK_DIR / "logs" / "worker.log"
    return log_file.exists() and b" ready." in log_file.read_bytes()[-200_000:]


def up() -> None:
    state = load_state()
    env = environment(state)
    home = Path(env["AIRFLOW_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    for sub in ("data", "mlflow-artifacts", "logs", "pids"):
        (STACK_DIR / sub).mkdir(parents=True, exist_ok=True)
    write_secret(home / "passwords.json", json.dumps({ADMIN: state["admin_password"]}))
    write_env_files(env)
    ensure_databases()
    cmds = commands(state)

    start("mlflow", cmds["mlflow"], env)
    if running_pid("api-server") is None:
        log("airflow db migrate")
        subprocess.run([str(BIN / "airflow"), "db", "migrate"], env={**os.environ, **env},
                       check=True, stdout=open(STACK_DIR / "logs" / "migrate.log", "ab"),
                       stderr=subprocess.STDOUT)
    for name in COMPONENTS[1:]:
        start(name, cmds[name], env)

    wait_for("mlflow server", lambda: http_ok(env["STACK_MLFLOW_URL"] + "/health"), 300, "mlflow")
    wait_for("api-server", lambda: bool(airflow_health(env)), 180, "api-server")
    wait_for("scheduler", lambda: healthy(airflow_health(env), "scheduler"), 120, "scheduler")
    wait_for("dag-processor", lambda: healthy(airflow_health(env), "dag_processor"), 120,
             "dag-processor")
    wait_for("triggerer", lambda: healthy(airflow_health(env), "triggerer"), 120, "triggerer")
    wait_for("celery worker", lambda: worker_ready(env), 120, "worker")
    status()
    log(f"use it from a shell with: source {STACK_DIR / 'env.sh'}")


def down() -> None:
    for name in reversed(COMPONENTS):
        stop(name)


def status() -> None:
    for name in COMPONENTS:
        pid = running_pid(name)
        log(f"{name:14s} {'running, pid ' + str(pid) if pid else 'stopped'}")
    if state_file().exists():
        env = environment(load_state())
        log(f"Airflow  {env['STACK_API_URL']}  (user {ADMIN}, password in "
            f"{STACK_DIR / 'airflow' / 'passwords.json'})")
        log(f"MLflow   {env['STACK_MLFLOW_URL']}")


def purge() -> None:
    down()
    drop_databases()
    shutil.rmtree(STACK_DIR, ignore_errors=True)
    log(f"removed {STACK_DIR}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["supervise"]:
        if len(argv) < 3:
            raise SystemExit("usage: stack.py supervise NAME COMMAND [ARG ...]")
        return supervise(argv[1], argv[2:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["up", "down", "status", "purge", "restart", "kill",
                                           "start", "stop"])
    parser.add_argument("components", nargs="*",
                        help=f"for restart, start, stop and kill: some of {COMPONENTS}")
    args = parser.parse_args(argv)
    if unknown := set(args.components) - set(COMPONENTS):
        parser.error(f"unknown components {sorted(unknown)}; choose from {COMPONENTS}")
    if args.action == "up":
        up()
    elif args.action == "down":
        down()
    elif args.action == "status":
        status()
    elif args.action == "purge":
        purge()
    elif args.action == "kill":
        for name in args.components:
            kill(name)
    elif args.action == "stop":
        for name in args.components:
            stop(name)
    elif args.action in ("restart", "start"):
        env = started_environment()
        cmds = commands(load_state())
        for name in args.components or COMPONENTS:
            if args.action == "restart":
                stop(name)
            start(name, cmds[name], env)
    return 0


if __name__ == "__main__":
    sys.exit(main())
