"""MLflow set-up, lineage tags, figures and registry helpers.

The tracking URI comes from the caller (the pipeline and CLI read ``MLFLOW_TRACKING_URI``);
the embedded default is a SQLite store with artifacts in a folder beside it. The registry uses
aliases (``champion``, ``challenger``), never the deprecated stages.
"""

from __future__ import annotations

import logging
import os
import subprocess
import tempfile
import warnings
from pathlib import Path

import mlflow
from mlflow.tracking import MlflowClient

log = logging.getLogger(__name__)

CHAMPION = "champion"
CHALLENGER = "challenger"


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


def set_alias_if_better(
    model_name: str,
    version: str,
    metric: str,
    value: float,
    alias: str = CHAMPION,
    higher_is_better: bool = True,
) -> bool:
    """Gated promotion: give ``version`` the ``alias`` unless the current holder scores better.

    The comparison reads ``metric`` from the tags of the holder's model version (written by
    ``tag_version_metric``), so both numbers come from the same split and protocol.

    Returns
    -------
    bool
        Whether ``version`` now holds the alias.
    """
    client = MlflowClient()
    tag_version_metric(model_name, version, metric, value)
    try:
        holder = client.get_model_version_by_alias(model_name, alias)
    except mlflow.exceptions.MlflowException:
        holder = None
    if holder is not None and holder.version != str(version):
        current = holder.tags.get(f"metric.{metric}")
        if current is not None:
            better = value > float(current) if higher_is_better else value < float(current)
            if not better:
                client.set_registered_model_alias(model_name, CHALLENGER, version)
                log.info(
                    "%s v%s stays challenger: %s=%.4f vs champion %s",
                    model_name,
                    version,
                    metric,
                    value,
                    current,
                )
                return False
    client.set_registered_model_alias(model_name, alias, version)
    return True


def tag_version_metric(model_name: str, version: str, metric: str, value: float) -> None:
    """Record ``metric`` on a registered model version, for gated promotion."""
    MlflowClient().set_model_version_tag(model_name, version, f"metric.{metric}", f"{value:.6g}")


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
