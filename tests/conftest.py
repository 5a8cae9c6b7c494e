"""Shared fixtures: the data mirror, an isolated MLflow store, a tiny synthetic data set."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
from helpers.mlflow_state import forget_active_experiment

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
    forget_active_experiment(monkeypatch)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    yield uri
    while mlflow.active_run() is not None:
        mlflow.end_run()


@pytest.fixture
def run_notebook(tmp_path, tracking_uri, monkeypatch):
    """Execute a real notebook with papermill in a project rooted at ``tmp_path``.

    Returns a function ``run(name, interactive=False, **parameters) -> dict`` that runs
    ``notebooks/<name>.ipynb`` in smoke mode, with outputs in ``tmp_path / "run"`` and Optuna
    studies in a SQLite file there, and returns the metrics the notebook recorded (its
    ``metrics.json``). Like the pipeline, it gives the notebook a child run and ``register``;
    ``interactive=True`` runs it as JupyterLab would, with its own defaults and no run.
    """
    import json

    import papermill
    from mlflow.tracking import MlflowClient

    from workbench import tracking

    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))

    def run(name: str, interactive: bool = False, **parameters) -> dict:
        notebook = ROOT / "notebooks" / f"{name}.ipynb"
        run_dir = tmp_path / "run"
        defaults = {
            "run_dir": str(run_dir),
            "smoke": True,
            "optuna_storage": f"sqlite:///{tmp_path / 'optuna.db'}",
        }
        if not interactive:
            experiment = tracking.ensure_experiment("workbench-test", tmp_path / "mlartifacts")
            tags = {"workbench.notebook": name, "mlflow.runName": name}  # as the pipeline does
            defaults["mlflow_run_id"] = MlflowClient().create_run(experiment, tags=tags).info.run_id
            defaults["register"] = True
        declared = papermill.inspect_notebook(str(notebook))
        chosen = {k: v for k, v in {**defaults, **parameters}.items() if k in declared}
        papermill.execute_notebook(
            str(notebook),
            str(tmp_path / f"{name}.out.ipynb"),
            parameters=chosen,
            kernel_name="python3",
            cwd=str(tmp_path),
            progress_bar=False,
        )
        return json.loads((run_dir / "metrics.json").read_text())

    return run


#: The users column of the synthetic site's planted segments (the right answer of personas).
TRUTH = "planted_segment"


@pytest.fixture(scope="session")
def planted() -> dict:
    """Tables of a small synthetic site with four planted segments, and its user features."""
    from workbench.data.sources import synthetic
    from workbench.features import build_user_features

    tables = synthetic.generate(n_users=400, n_items=120, n_days=30, seed=7)
    features = build_user_features(tables["events"], tables["items"], tables["users"])
    truth = tables["users"].set_index("user_id")[TRUTH].reindex(features.index)
    return {"tables": tables, "features": features, "truth": truth}


@pytest.fixture(scope="session")
def planted_features(planted) -> pd.DataFrame:
    return planted["features"]
