"""MLflow set-up, nested runs, lineage tags and figures.

The tracking URI comes from the caller (the pipeline and CLI read ``MLFLOW_TRACKING_URI``);
the embedded default is a SQLite store with artifacts in a folder beside it. The model
registry is :mod:`workbench.publish`'s job.
"""

from __future__ import annotations

import logging
import os
import subprocess
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import mlflow
from mlflow.tracking import MlflowClient

log = logging.getLogger(__name__)


def configure(tracking_uri: str) -> str:
    """Point MLflow at ``tracking_uri`` (registry too) and silence its telemetry."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    return tracking_uri


def ensure_experiment(name: str, artifact_root: Path | None = None) -> str:
    """Id of experiment ``name``, created with artifacts under ``artifact_root`` if missing.

    ``artifact_root`` only applies to stores without their own artifact location (the local
    SQLite store); a tracking server keeps its configured artifact store.
    """
    client = MlflowClient()
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    location = None
    if artifact_root is not None and mlflow.get_tracking_uri().startswith("sqlite"):
        location = (Path(artifact_root).resolve() / name).as_uri()
    return client.create_experiment(name, artifact_location=location)


@contextmanager
def nested_run(
    name: str,
    tags: dict[str, str] | None = None,
    killed_on: type[BaseException] | tuple[type[BaseException], ...] = (),
) -> Iterator[mlflow.ActiveRun | None]:
    """A run named ``name`` nested under the active run, in the same experiment.

    Yields None (and tracks nothing) when no run is active. The run ends FINISHED, KILLED when
    the block raises one of ``killed_on`` (a pruned trial: stopped early, not broken), and
    FAILED on any other exception.
    """
    parent = mlflow.active_run()
    if parent is None:
        yield None
        return
    run = mlflow.start_run(
        run_name=name, nested=True, experiment_id=parent.info.experiment_id, tags=tags
    )
    status = "FAILED"
    try:
        yield run
        status = "FINISHED"
    except killed_on:
        status = "KILLED"
        raise
    finally:
        mlflow.end_run(status)


def git_commit(cwd: Path | None = None) -> str:
    """The current git commit, with ``-dirty`` when the work tree has changes; ``unknown``."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("-dirty" if dirty else "")


def log_figure(figure, name: str, run_dir: Path | None = None) -> None:
    """Log a matplotlib figure as ``plots/<name>.png`` to the active run (and ``run_dir``)."""
    filename = name if name.endswith(".png") else f"{name}.png"
    if run_dir is not None:
        target = Path(run_dir) / "plots" / filename
        target.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(target, dpi=110, bbox_inches="tight")
    if mlflow.active_run() is not None:
        mlflow.log_figure(figure, f"plots/{filename}")


def log_frame(frame, name: str) -> None:
    """Log a small DataFrame as a CSV artifact ``tables/<name>.csv`` of the active run."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{name}.csv"
        frame.to_csv(path, index=False)
        mlflow.log_artifact(str(path), artifact_path="tables")


def log_curated_dataset(name: str, folder: Path, digest: str, run_id: str | None = None) -> None:
    """Record the curated data set ``name`` at ``digest`` as an input of a run.

    Logged to ``run_id`` when given, else to the active run; the digest is the curated
    manifest's, so two runs on the same data show the same version in the MLflow UI.
    """
    from mlflow.data.dataset_source_registry import resolve_dataset_source
    from mlflow.data.meta_dataset import MetaDataset
    from mlflow.entities import DatasetInput, InputTag

    with warnings.catch_warnings():  # a local folder matches two equivalent source types
        warnings.simplefilter("ignore", UserWarning)
        source = resolve_dataset_source(str(folder))
    dataset = MetaDataset(source, name=name, digest=digest[:16])
    if run_id is None:
        mlflow.log_input(dataset, context="curated")
        mlflow.set_tags({"workbench.dataset": name, "workbench.dataset_digest": digest})
        return
    client = MlflowClient()
    entity = DatasetInput(dataset._to_mlflow_entity(), [InputTag("mlflow.data.context", "curated")])
    client.log_inputs(run_id, [entity])
    client.set_tag(run_id, "workbench.dataset", name)
    client.set_tag(run_id, "workbench.dataset_digest", digest)
