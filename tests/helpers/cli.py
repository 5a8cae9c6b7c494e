"""Run the real ``workbench`` command line in a project root, as a user's shell would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def workbench(
    root: Path, *args: str, key: str | None = None, own_store: bool = True, timeout: int = 900
) -> subprocess.CompletedProcess:
    """``workbench ARGS`` run in project ``root`` (``WORKBENCH_HOME``), output captured.

    ``own_store``: track to ``root/experiments/mlflow.db`` rather than to the caller's
    ``MLFLOW_TRACKING_URI``; ``key``: the pseudonym key (``WORKBENCH_PSEUDONYM_KEY``).
    """
    env = {**os.environ, "WORKBENCH_HOME": str(root)}
    if own_store:
        env["MLFLOW_TRACKING_URI"] = f"sqlite:///{Path(root) / 'experiments' / 'mlflow.db'}"
    if key is not None:
        env["WORKBENCH_PSEUDONYM_KEY"] = key
    command = [sys.executable, "-m", "workbench.cli", *args]
    return subprocess.run(
        command, cwd=root, env=env, capture_output=True, text=True, timeout=timeout
    )


def succeeded(done: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    """``done``, after asserting it exited 0 (the tail of its output is the message)."""
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done
