"""The default pipeline end to end, as `make run` runs it, with smoke-sized budgets.

Real notebooks through papermill, a real MLflow SQLite store and a real Optuna storage: every
notebook's run must finish, models must be registered with the champion alias, and nothing
the pipeline wrote (curated layer, run folders, MLflow params, tags and artifacts) may hold a
raw user identifier or an e-mail address.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.pii_scan import scan_folder, scan_mlflow_run
from mlflow.tracking import MlflowClient

from workbench.data.sources.synthetic import generate

pytestmark = [pytest.mark.notebooks, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def finished_pipeline(tmp_path_factory):
    """Run experiments/default.yaml with smoke=true in a fresh project root, once."""
    root = tmp_path_factory.mktemp("project")
    (root / "notebooks").symlink_to(ROOT / "notebooks")
    (root / "experiments").mkdir()
    (root / "experiments" / "segments").symlink_to(ROOT / "experiments" / "segments")
    uri = f"sqlite:///{root / 'experiments' / 'mlflow.db'}"
    env = {**os.environ, "WORKBENCH_HOME": str(root), "MLFLOW_TRACKING_URI": uri}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "workbench.cli",
            "run",
            str(ROOT / "experiments/default.yaml"),
            "--set",
            "smoke=true",
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    return root, client


def _runs(client: MlflowClient):
    experiment = client.get_experiment_by_name("workbench-default")
    return client.search_runs([experiment.experiment_id], max_results=5000)


def test_every_notebook_run_finished(finished_pipeline):
    root, client = finished_pipeline
    runs = _runs(client)
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert [p.info.status for p in parents] == ["FINISHED"]
    children = {
        r.data.tags["mlflow.runName"]: r.info.status
        for r in runs
        if r.data.tags.get("mlflow.parentRunId") == parents[0].info.run_id
    }
    assert children == {
        name: "FINISHED"
        for name in (
            "10_ingest",
            "20_personas",
            "30_content_based",
            "40_collaborative",
            "60_bandits",
        )
    }
    nested = [
        r
        for r in runs
        if r.data.tags.get("mlflow.parentRunId") not in (None, parents[0].info.run_id)
    ]
    assert nested, "Optuna trials are nested runs under the notebooks' runs"
    assert (root / "experiments" / "optuna.db").is_file()


def test_models_are_registered_as_champions(finished_pipeline):
    _, client = finished_pipeline
    names = {model.name for model in client.search_registered_models()}
    for kind in ("personas", "recommender", "policy"):
        assert f"synthetic-{kind}" in names
        assert client.get_model_version_by_alias(f"synthetic-{kind}", "champion")


def test_no_raw_identifier_or_email_reaches_curated_data_or_mlflow(finished_pipeline):
    root, client = finished_pipeline
    raw_ids = set(generate(n_users=300, n_days=14, seed=42)["users"]["user_id"])
    for folder in (root / "data" / "curated", root / "experiments"):
        findings = scan_folder(folder, raw_ids, min_length=8)
        assert findings.empty, findings.head(10).to_string()
    for run in _runs(client):
        findings = scan_mlflow_run(client, run.info.run_id, raw_ids)
        assert findings.empty, findings.head(10).to_string()
