"""``workbench server start | stop | status | migrate``: the shared tracking server.

``start`` runs PostgreSQL (cluster in ``data/pg/``) and an MLflow server on it with artifacts
in ``experiments/mlartifacts``, then prints the ``MLFLOW_TRACKING_URI`` to export; ``make run``
and ``workbench run`` with that URI track there (and keep their Optuna studies in the same
PostgreSQL). Without it, the embedded SQLite store stays the default. ``migrate`` copies the
embedded store's runs and registered models into the running server.
"""

from __future__ import annotations

import argparse
import os
import sys

from workbench import server
from workbench.config import ProjectPaths

TRACKING_VARIABLE = "MLFLOW_TRACKING_URI"


def layout(paths: ProjectPaths) -> server.ServerLayout:
    """The project's server folders: ``data/pg`` and the artifact folder."""
    return server.ServerLayout(paths.root / "data" / "pg", paths.artifacts)


def running_for(uri: str | None, paths: ProjectPaths) -> server.ServerState | None:
    """The project's running server when ``uri`` is its tracking URI, else None."""
    if not uri or not uri.startswith("http://127.0.0.1:"):
        return None
    state = server.status(layout(paths))
    return state if state is not None and state.tracking_uri == uri else None


def _exports(state: server.ServerState) -> str:
    return (
        f"export {TRACKING_VARIABLE}={state.tracking_uri}\n"
        f"# Optuna studies go to {state.optuna_storage} when runs track there"
    )


def cmd_start(args: argparse.Namespace) -> int:
    paths = ProjectPaths.discover()
    try:
        state = server.start(layout(paths), args.pg_port, args.port)
    except server.ServerError as error:
        print(f"workbench: server: {error}", file=sys.stderr)
        return 1
    _announce(state)
    return 0


def _announce(state) -> None:
    """Where the server listens, and the exports that point runs and studies at it."""
    print(
        f"workbench: MLflow server on {state.tracking_uri} (PostgreSQL 127.0.0.1:{state.pg_port})"
    )
    print(_exports(state))


def cmd_stop(args: argparse.Namespace) -> int:
    stopped = server.stop(layout(ProjectPaths.discover()))
    print("workbench: server stopped" if stopped else "workbench: no server was running")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    state = server.status(layout(ProjectPaths.discover()))
    if state is None:
        print("workbench: no server running (runs track to the embedded SQLite store)")
        return 3
    _announce(state)
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from workbench import migration

    paths = ProjectPaths.discover()
    state = server.status(layout(paths))
    source = args.source or paths.tracking_uri
    target = args.to or (state and state.tracking_uri) or os.environ.get(TRACKING_VARIABLE)
    if not target or target == source:
        print("workbench: server migrate: no server running and no --to URI", file=sys.stderr)
        return 1
    report = migration.migrate(source, target)
    print(
        f"workbench: copied {report.runs} runs of {report.experiments} experiments and "
        f"{report.model_versions} model versions from {source} to {target} "
        f"({report.skipped_runs} runs copied before)"
    )
    return 0


def add_commands(commands) -> None:
    """Register ``server start | stop | status | migrate``."""
    parser = commands.add_parser("server", help="the shared MLflow server on PostgreSQL")
    actions = parser.add_subparsers(dest="action", required=True)
    start = actions.add_parser("start", help="start PostgreSQL (data/pg) and the MLflow server")
    start.add_argument("--port", type=int, default=0, help="MLflow server port (free one)")
    start.add_argument("--pg-port", type=int, default=0, help="PostgreSQL port (free one)")
    start.set_defaults(handler=cmd_start)
    actions.add_parser("stop", help="stop both").set_defaults(handler=cmd_stop)
    actions.add_parser("status", help="is it running, and where").set_defaults(handler=cmd_status)
    migrate = actions.add_parser("migrate", help="copy the embedded store into the server")
    migrate.add_argument("--source", help="the store to copy (the embedded SQLite by default)")
    migrate.add_argument("--to", help="target tracking URI (the running server by default)")
    migrate.set_defaults(handler=cmd_migrate)
