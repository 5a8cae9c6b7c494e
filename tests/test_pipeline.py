"""The runner executes real notebooks with papermill and records them in a real MLflow store.

Each test builds a project root in a temporary folder (``WORKBENCH_HOME``) holding copies of
the notebooks it runs, and runs the real ``workbench`` command against a fresh SQLite store.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import mlflow
import nbformat
import pytest
from helpers.cli import workbench
from mlflow.tracking import MlflowClient

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [pytest.mark.notebooks, pytest.mark.slow]


@pytest.fixture
def project(tmp_path, tracking_uri, monkeypatch):
    """A project root with the ingest notebook and a notebook that fails in its third cell."""
    (tmp_path / "notebooks").mkdir()
    shutil.copy(ROOT / "notebooks" / "10_ingest.ipynb", tmp_path / "notebooks")
    failing = nbformat.v4.new_notebook()
    failing.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    parameters = nbformat.v4.new_code_cell("dataset: str = 'x'  # data set")
    parameters.metadata["tags"] = ["parameters"]
    failing.cells = [
        parameters,
        nbformat.v4.new_code_cell("total = 1 + 1"),
        nbformat.v4.new_code_cell("raise ValueError('the planted failure')"),
    ]
    nbformat.write(failing, tmp_path / "notebooks" / "99_fail.ipynb")
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    return tmp_path


def _config(project, *notebooks: str, source: str = "synthetic", options: str = "{}") -> str:
    steps = "\n".join(f"  - notebook: {name}" for name in notebooks)
    path = project / "pipeline.yaml"
    path.write_text(
        f"name: test\ndata: {{source: {source}, options: {options}}}\nsmoke: true\n"
        f"notebooks:\n{steps}\n"
    )
    return str(path)


def _runs(experiment: str = "workbench-test"):
    client = MlflowClient()
    experiment_id = client.get_experiment_by_name(experiment).experiment_id
    runs = client.search_runs([experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    return parents, children


def test_pipeline_runs_ingest_and_records_runs(project):
    done = workbench(project, "run", _config(project, "10_ingest.ipynb"), own_store=False)
    assert done.returncode == 0, done.stderr
    assert "executed notebooks in" in done.stdout
    parents, children = _runs()
    assert [p.info.status for p in parents] == ["FINISHED"]
    assert [c.info.status for c in children] == ["FINISHED"]
    parent, child = parents[0], children[0]
    assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
    for tag in ("workbench.pipeline_run_id", "workbench.config_hash", "mlflow.source.git.commit"):
        assert parent.data.tags[tag] and child.data.tags[tag] == parent.data.tags[tag]
    manifest = json.loads((project / "data/curated/synthetic/manifest.json").read_text())
    assert parent.data.tags["workbench.dataset_digest"] == manifest["digest"]
    assert parent.inputs.dataset_inputs[0].dataset.digest == manifest["digest"][:16]
    assert child.data.metrics["events_curated"] == manifest["tables"]["events"]["rows"]
    artifacts = [a.path for a in MlflowClient().list_artifacts(child.info.run_id, "notebook")]
    assert artifacts == ["notebook/10_ingest.html", "notebook/10_ingest.ipynb"]
    run_dir = project / "experiments" / "runs" / parent.data.tags["workbench.pipeline_run_id"]
    executed = nbformat.read(run_dir / "10_ingest.ipynb", as_version=4)
    injected = executed.metadata["papermill"]["parameters"]
    assert injected["mlflow_run_id"] == child.info.run_id and injected["smoke"] is True
    assert json.loads((run_dir / "10_ingest" / "metrics.json").read_text())["n_users"] > 0


def test_failing_notebook_stops_the_pipeline(project):
    config = _config(project, "10_ingest.ipynb", "99_fail.ipynb")
    done = workbench(project, "run", config, own_store=False)
    assert done.returncode == 1
    assert "99_fail.ipynb failed in cell 3" in done.stderr
    assert "ValueError: the planted failure" in done.stderr
    parents, children = _runs()
    assert parents[0].info.status == "FAILED"
    status = {c.data.tags["mlflow.runName"]: c.info.status for c in children}
    assert status == {"10_ingest": "FINISHED", "99_fail": "FAILED"}
    executed = next((project / "experiments" / "runs").glob("*/99_fail.ipynb"))
    assert "the planted failure" in executed.read_text()


def test_unknown_parameter_is_rejected_before_any_work(project):
    config = project / "pipeline.yaml"
    config.write_text(
        "name: test\ndata: {source: synthetic}\nnotebooks:\n"
        "  - notebook: 10_ingest.ipynb\n    parameters: {n_trails: 3}\n"
    )
    done = workbench(project, "run", str(config), own_store=False)
    assert done.returncode == 2
    assert "notebooks.10_ingest.parameters.n_trails" in done.stderr
    assert mlflow.get_experiment_by_name("workbench-test") is None


def test_only_and_overrides_from_the_command_line(project):
    config = _config(project, "10_ingest.ipynb", "99_fail.ipynb")
    done = workbench(
        project, "run", config, "--only", "10_ingest", "--set", "seed=7", own_store=False
    )
    assert done.returncode == 0, done.stderr
    parents, children = _runs()
    assert len(children) == 1
    run_dir = next((project / "experiments" / "runs").iterdir())
    executed = nbformat.read(run_dir / "10_ingest.ipynb", as_version=4)
    assert executed.metadata["papermill"]["parameters"]["seed"] == 7


@pytest.mark.mirror
def test_movielens_100k_pipeline_curates_the_published_counts(project, mirror):
    done = workbench(
        project,
        "run",
        _config(project, "10_ingest.ipynb", source="movielens-100k"),
        "--mirror",
        str(mirror),
        own_store=False,
    )
    assert done.returncode == 0, done.stderr
    parents, children = _runs()
    metrics = children[0].data.metrics
    assert (metrics["events_curated"], metrics["n_users"], metrics["n_items"]) == (
        100_000,
        943,
        1_682,
    )
    assert parents[0].data.tags["workbench.dataset"] == "movielens-100k"
    assert len(parents[0].data.tags["workbench.dataset_digest"]) == 64
