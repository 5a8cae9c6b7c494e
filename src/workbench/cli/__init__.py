"""``workbench``: run pipelines, open JupyterLab and the MLflow UI, manage curated data.

This package and the pipeline are the only places that read the environment and paths.
``run`` holds ``workbench run``, ``ui`` and ``lab``; ``data`` holds ``workbench data ...``;
``models`` holds ``workbench models list | rollback``; ``server`` holds
``workbench server start | stop | status | migrate``; ``serve`` holds ``workbench serve``
and ``workbench simulate``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from workbench.cli import data, models, run, serve, server
from workbench.cli.run import resolve_config_path
from workbench.config import ConfigError

__all__ = ["build_parser", "main", "resolve_config_path"]

NOISY_LOGGERS = ("alembic", "mlflow", "papermill", "traitlets", "urllib3")


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface: every sub-command of ``run`` and ``data``."""
    parser = argparse.ArgumentParser(prog="workbench", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True)
    run.add_commands(commands)
    data.add_commands(commands)
    models.add_commands(commands)
    server.add_commands(commands)
    serve.add_commands(commands)
    return parser


#: Set before MLflow or TensorFlow is imported, here and in the kernels that inherit them: no
#: telemetry, no oneDNN/CUDA/absl chatter, MLflow's own log lines from WARNING up.
QUIET_ENVIRONMENT = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "MLFLOW_LOGGING_LEVEL": "WARNING",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "TF_ENABLE_ONEDNN_OPTS": "0",
}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``workbench`` command."""
    for key, value in QUIET_ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    for noisy in NOISY_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.getLogger("traitlets").setLevel(logging.ERROR)  # nbconvert: alt text of plots
    try:
        return args.handler(args)
    except ConfigError as error:
        print(f"workbench: configuration error: {error}", file=sys.stderr)
        return 2
