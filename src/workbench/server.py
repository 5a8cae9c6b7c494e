"""A shared tracking server: PostgreSQL in a project folder and an MLflow server on it.

:func:`start` initializes (once) a PostgreSQL 15 cluster in ``layout.cluster``, owned by an
unprivileged system user when the caller is root (``initdb`` refuses root), listening on
127.0.0.1 only, with two databases: ``mlflow`` (runs and registry) and ``optuna`` (studies).
It then starts ``mlflow server`` on the ``mlflow`` database with artifacts served from
``layout.artifacts`` and the lean settings (one worker, no job execution: 2 processes, about
0.5 GB). What is running is written to ``layout.state_file``; :func:`status` and :func:`stop`
read it. Nothing here reads the environment or the configuration: the CLI passes the layout.
"""

from __future__ import annotations

import json
import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

log = logging.getLogger(__name__)

#: Where Debian puts the PostgreSQL 15 binaries (``initdb`` and ``pg_ctl`` are not on PATH).
PG_BIN_DIRS = (Path("/usr/lib/postgresql/15/bin"), Path("/usr/lib/postgresql/16/bin"))
#: The database role of the cluster (trust authentication, 127.0.0.1 only).
DB_ROLE = "workbench"
#: The system user that owns the cluster when the caller is root.
SERVICE_USER = "postgres"
DATABASES = ("mlflow", "optuna")


class ServerError(RuntimeError):
    """The server could not start or stop; the message says what to do."""


@dataclass(frozen=True)
class ServerLayout:
    """The folders of a server: the cluster under ``root``, the artifacts elsewhere."""

    root: Path
    artifacts: Path

    @property
    def cluster(self) -> Path:
        return self.root / "cluster"

    @property
    def state_file(self) -> Path:
        return self.root / "server.json"

    @property
    def pg_log(self) -> Path:
        return self.root / "postgresql.log"

    @property
    def mlflow_log(self) -> Path:
        return self.root / "mlflow-server.log"


@dataclass(frozen=True)
class ServerState:
    """What :func:`start` started: ports and the MLflow server's process id."""

    pg_port: int
    mlflow_port: int
    mlflow_pid: int

    @property
    def tracking_uri(self) -> str:
        """The ``MLFLOW_TRACKING_URI`` clients use."""
        return f"http://127.0.0.1:{self.mlflow_port}"

    def database_uri(self, database: str) -> str:
        """SQLAlchemy URI of ``database`` (psycopg 3: ``postgresql+psycopg://``)."""
        return f"postgresql+psycopg://{DB_ROLE}@127.0.0.1:{self.pg_port}/{database}"

    @property
    def optuna_storage(self) -> str:
        return self.database_uri("optuna")


def pg_binary(name: str) -> Path:
    """Path of PostgreSQL binary ``name`` (``initdb``, ``pg_ctl``).

    Raises
    ------
    ServerError
        When PostgreSQL is not installed (Debian package ``postgresql``).
    """
    for folder in PG_BIN_DIRS:
        if (folder / name).is_file():
            return folder / name
    found = shutil.which(name)
    if found is None:
        raise ServerError(f"{name} not found: install the Debian package postgresql (15)")
    return Path(found)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_service_user(command: list[str]) -> list[str]:
    """``command`` run as :data:`SERVICE_USER` when we are root (``initdb`` refuses root)."""
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", SERVICE_USER, "--", *command]


def _own(path: Path) -> None:
    """Give ``path`` (recursively) to the service user when we are root."""
    if os.geteuid() != 0:
        return
    try:
        user = pwd.getpwnam(SERVICE_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", SERVICE_USER], check=True)
        user = pwd.getpwnam(SERVICE_USER)
    for folder, _, files in os.walk(path):
        os.chown(folder, user.pw_uid, user.pw_gid)
        for name in files:
            os.chown(Path(folder) / name, user.pw_uid, user.pw_gid)


def init_cluster(layout: ServerLayout) -> None:
    """Create the PostgreSQL cluster in ``layout.cluster`` unless it exists."""
    if (layout.cluster / "PG_VERSION").is_file():
        return
    layout.cluster.mkdir(parents=True, exist_ok=True)
    _own(layout.root)
    command = [str(pg_binary("initdb")), "-D", str(layout.cluster), "-U", DB_ROLE,
               "--auth=trust", "-E", "UTF8", "--no-instructions"]  # fmt: skip
    done = subprocess.run(_as_service_user(command), capture_output=True, text=True)
    if done.returncode:
        raise ServerError(f"initdb failed in {layout.cluster}: {done.stderr.strip()}")
    log.info("initialized a PostgreSQL cluster in %s", layout.cluster)


def _pg_ctl(layout: ServerLayout, *args: str) -> subprocess.CompletedProcess:
    command = [str(pg_binary("pg_ctl")), "-D", str(layout.cluster), *args]
    return subprocess.run(_as_service_user(command), capture_output=True, text=True)


def start_postgres(layout: ServerLayout, port: int) -> None:
    """Start the cluster on 127.0.0.1:``port`` and create its databases."""
    _own(layout.root)
    options = f"-p {port} -c listen_addresses=127.0.0.1 -k {layout.cluster}"
    done = _pg_ctl(layout, "-o", options, "-l", str(layout.pg_log), "-w", "-t", "60", "start")
    if done.returncode:
        tail = layout.pg_log.read_text()[-800:] if layout.pg_log.is_file() else done.stderr
        raise ServerError(f"PostgreSQL did not start on port {port}: {tail.strip()}")
    import psycopg

    with psycopg.connect(f"host=127.0.0.1 port={port} user={DB_ROLE} dbname=postgres") as conn:
        conn.autocommit = True
        existing = {row[0] for row in conn.execute("SELECT datname FROM pg_database")}
        for database in DATABASES:
            if database not in existing:
                conn.execute(f'CREATE DATABASE "{database}"')


def postgres_running(layout: ServerLayout) -> bool:
    """Whether the cluster's postmaster runs."""
    return layout.cluster.is_dir() and _pg_ctl(layout, "status").returncode == 0


def mlflow_command(state: ServerState, layout: ServerLayout) -> list[str]:
    """The ``mlflow server`` command line: one worker, artifacts served from the folder."""
    return [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", state.database_uri("mlflow"),
        "--artifacts-destination", layout.artifacts.resolve().as_uri(),
        "--serve-artifacts", "--host", "127.0.0.1", "--port", str(state.mlflow_port),
        "--workers", "1",
    ]  # fmt: skip


def healthy(tracking_uri: str, timeout: float = 2.0) -> bool:
    """Whether the MLflow server at ``tracking_uri`` answers ``/health``."""
    try:
        with urllib.request.urlopen(f"{tracking_uri}/health", timeout=timeout) as response:
            return response.status == 200
    except OSError:
        return False


def start(layout: ServerLayout, pg_port: int = 0, mlflow_port: int = 0, wait: float = 120):
    """Start PostgreSQL and the MLflow server (free ports unless given); the running state.

    Already running: the recorded state, untouched.

    Raises
    ------
    ServerError
        When PostgreSQL is missing, or a process does not come up (the message quotes its log).
    """
    current = status(layout)
    if current is not None:
        return current
    init_cluster(layout)
    layout.artifacts.mkdir(parents=True, exist_ok=True)
    pg_port = pg_port or free_port()
    if not postgres_running(layout):
        start_postgres(layout, pg_port)
    else:
        pg_port = read_state(layout).pg_port if layout.state_file.is_file() else pg_port
    state = ServerState(pg_port, mlflow_port or free_port(), 0)
    environment = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
                   "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}  # fmt: skip
    with layout.mlflow_log.open("ab") as out:
        process = subprocess.Popen(
            mlflow_command(state, layout), stdout=out, stderr=subprocess.STDOUT,
            env=environment, start_new_session=True,
        )  # fmt: skip
    state = ServerState(pg_port, state.mlflow_port, process.pid)
    layout.state_file.write_text(json.dumps(asdict(state)))
    deadline = time.monotonic() + wait
    while not healthy(state.tracking_uri):
        if process.poll() is not None or time.monotonic() > deadline:
            stop(layout)
            tail = layout.mlflow_log.read_text(errors="replace")[-1500:]
            raise ServerError(f"the MLflow server did not come up: {tail.strip()}")
        time.sleep(0.5)
    log.info("MLflow server on %s (PostgreSQL on port %d)", state.tracking_uri, pg_port)
    return state


def read_state(layout: ServerLayout) -> ServerState:
    """The state :func:`start` recorded."""
    return ServerState(**json.loads(layout.state_file.read_text()))


def status(layout: ServerLayout) -> ServerState | None:
    """The running server's state, or None when it (or its database) is not running."""
    if not layout.state_file.is_file() or not postgres_running(layout):
        return None
    state = read_state(layout)
    return state if healthy(state.tracking_uri) else None


def stop(layout: ServerLayout) -> bool:
    """Stop the MLflow server and PostgreSQL; whether anything was running."""
    stopped = False
    if layout.state_file.is_file():
        state = read_state(layout)
        try:
            os.killpg(state.mlflow_pid, signal.SIGTERM)
            stopped = True
            for _ in range(25):
                os.killpg(state.mlflow_pid, 0)
                time.sleep(0.2)
            os.killpg(state.mlflow_pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        layout.state_file.unlink()
    if postgres_running(layout):
        _pg_ctl(layout, "-m", "fast", "-w", "stop")
        stopped = True
    return stopped
