"""``workbench server``: PostgreSQL and an MLflow server on it, a pipeline tracked there with
its Optuna studies in parallel workers, and the embedded store migrated into it.

One server for the module (about 20 s to start), in a folder the unprivileged PostgreSQL user
can reach; the real ``workbench`` command throughout.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import mlflow
import optuna
import pytest
from mlflow.tracking import MlflowClient

from workbench import migration, server

pytestmark = [pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


def _postgres_or_skip() -> None:
    try:
        server.pg_binary("initdb")
    except server.ServerError:
        pytest.skip(
            "PostgreSQL binaries (initdb, pg_ctl) missing: install Debian package postgresql"
        )


def workbench(*args: str, root: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {**os.environ, "WORKBENCH_HOME": str(root), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "workbench.cli", *args],
        cwd=root, env=environment, capture_output=True, text=True, timeout=900,
    )  # fmt: skip


@pytest.fixture(scope="module")
def project():
    """A project root under /tmp (readable by the PostgreSQL user) with the server started."""
    _postgres_or_skip()
    root = Path(tempfile.mkdtemp(prefix="workbench-server-"))
    root.chmod(stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
    (root / "notebooks").symlink_to(ROOT / "notebooks")
    (root / "experiments").mkdir()
    started = workbench("server", "start", root=root)
    assert started.returncode == 0, started.stdout + started.stderr
    uri = next(
        line.split("=", 1)[1]
        for line in started.stdout.splitlines()
        if line.startswith("export MLFLOW_TRACKING_URI=")
    )
    yield root, uri
    workbench("server", "stop", root=root)
    shutil.rmtree(root, ignore_errors=True)


def test_status_names_the_running_server(project):
    root, uri = project
    done = workbench("server", "status", root=root)
    assert done.returncode == 0 and f"export MLFLOW_TRACKING_URI={uri}" in done.stdout
    assert (root / "data" / "pg" / "cluster" / "PG_VERSION").is_file()


def test_a_pipeline_tracks_to_the_server_with_parallel_trials(project):
    root, uri = project
    config = root / "smoke.yaml"
    config.write_text(
        "name: server\ndata: {source: synthetic, options: {n_users: 300, n_items: 80}}\n"
        "smoke: true\nnotebooks:\n  - notebook: 10_ingest.ipynb\n"
        "  - notebook: 40_collaborative.ipynb\n    parameters: {families: [popularity, als]}\n"
    )
    done = workbench("run", str(config), "--workers", "2", root=root,
                     env={"MLFLOW_TRACKING_URI": uri})  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "2 Optuna workers per study" in done.stdout
    client = MlflowClient(uri, uri)
    experiment = client.get_experiment_by_name("workbench-server")
    runs = client.search_runs([experiment.experiment_id])
    by_id = {run.info.run_id: run for run in runs}
    parents = [run for run in runs if "mlflow.parentRunId" not in run.data.tags]
    assert [run.info.status for run in parents] == ["FINISHED"]
    notebooks = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parents[0].info.run_id]
    assert sorted(r.data.tags["workbench.notebook"] for r in notebooks) == [
        "10_ingest",
        "40_collaborative",
    ]
    trials = [run for run in runs if "optuna.trial" in run.data.tags]
    studies = {run.data.tags["optuna.study"] for run in trials}
    assert any(name.startswith("als-") for name in studies)
    for study in studies:  # every trial once, each nested under its family's run
        numbers = sorted(int(r.data.tags["optuna.trial"]) for r in trials
                         if r.data.tags["optuna.study"] == study)  # fmt: skip
        assert numbers == list(range(len(numbers)))
    for run in trials:
        family = by_id[run.data.tags["mlflow.parentRunId"]]
        assert by_id[family.data.tags["mlflow.parentRunId"]].data.tags["workbench.notebook"] == (
            "40_collaborative"
        )
    state = server.read_state(server.ServerLayout(root / "data" / "pg", root / "experiments"))
    stored = optuna.get_all_study_names(state.optuna_storage)
    assert studies <= set(stored)  # the studies live in the server's PostgreSQL
    registered = {model.name: model for model in client.search_registered_models()}
    assert registered and all("champion" in model.aliases for model in registered.values())
    artifacts = client.list_artifacts(notebooks[0].info.run_id, "notebook")
    assert artifacts and (root / "experiments" / "mlartifacts").is_dir()


def test_two_workers_on_postgresql_record_every_trial(project):
    root, _ = project
    state = server.read_state(server.ServerLayout(root / "data" / "pg", root / "experiments"))
    from workbench.tuning import Budget, run_study

    def objective(trial):
        return -((trial.suggest_float("x", -1, 1) - 0.2) ** 2)

    study = run_study("pg-toy", objective, Budget(20, state.optuna_storage, n_workers=2), "v")
    assert sorted(trial.number for trial in study.trials) == list(range(20))
    assert {trial.state for trial in study.trials} == {optuna.trial.TrialState.COMPLETE}


class Constant(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input):
        return model_input


def test_migrate_copies_runs_and_registered_models(project, tracking_uri):
    root, uri = project
    mlflow.set_experiment("embedded")
    with mlflow.start_run(run_name="parent") as parent:
        mlflow.log_param("alpha", 0.5)
        for step, value in enumerate([0.1, 0.2, 0.3]):
            mlflow.log_metric("ndcg", value, step=step)
        mlflow.log_text("hello", "notes/hello.txt")
        with mlflow.start_run(run_name="child", nested=True):
            mlflow.log_metric("loss", 1.5)
        mlflow.pyfunc.log_model(
            name="model", python_model=Constant(), pip_requirements=["mlflow"],
            registered_model_name="toy-model",
        )  # fmt: skip
    MlflowClient().set_registered_model_alias("toy-model", "champion", "1")

    done = workbench("server", "migrate", "--source", tracking_uri, root=root)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "copied 2 runs of 1 experiments and 1 model versions" in done.stdout
    again = migration.migrate(tracking_uri, uri)  # in process: the CLI was shown above
    assert (again.runs, again.skipped_runs, again.model_versions) == (0, 2, 0)

    client = MlflowClient(uri, uri)
    runs = client.search_runs([client.get_experiment_by_name("embedded").experiment_id])
    copied = {run.data.tags["workbench.migrated_from"]: run for run in runs}
    new_parent = copied[parent.info.run_id]
    child = next(run for run in runs if run.info.run_name == "child")
    assert child.data.tags["mlflow.parentRunId"] == new_parent.info.run_id
    history = client.get_metric_history(new_parent.info.run_id, "ndcg")
    assert [(m.step, m.value) for m in history] == [(0, 0.1), (1, 0.2), (2, 0.3)]
    assert new_parent.data.params == {"alpha": "0.5"} and new_parent.info.status == "FINISHED"
    notes = client.download_artifacts(new_parent.info.run_id, "notes/hello.txt", str(root))
    assert Path(notes).read_text() == "hello"
    version = client.get_model_version_by_alias("toy-model", "champion")
    assert version.run_id == new_parent.info.run_id
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    model = mlflow.pyfunc.load_model("models:/toy-model@champion")
    assert model.predict([[1.0]]) == [[1.0]]
