"""Shared fixtures: the data mirror, an isolated MLflow store, a tiny synthetic data set."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MIRROR = ROOT.parent / "shared" / "data"


def mirror_folder() -> Path | None:
    """The mirror named by ``WORKBENCH_DATA_MIRROR``, else ``../shared/data`` when present."""
    named = os.environ.get("WORKBENCH_DATA_MIRROR")
    folder = Path(named) if named else DEFAULT_MIRROR
    return folder.resolve() if (folder / "SHA256SUMS").is_file() else None


@pytest.fixture(scope="session")
def mirror() -> Path:
    """The real data sets; tests that need them skip, saying why, where they are absent."""
    folder = mirror_folder()
    if folder is None:
        pytest.skip(
            "real data sets not found: set WORKBENCH_DATA_MIRROR or place them in ../shared/data"
        )
    return folder


@pytest.fixture
def tracking_uri(tmp_path, monkeypatch) -> str:
    """A fresh MLflow SQLite store for one test, set for this process and its children."""
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    yield uri
    while mlflow.active_run() is not None:
        mlflow.end_run()
