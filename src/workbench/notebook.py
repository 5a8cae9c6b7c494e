"""What every notebook does at its start and end, so no notebook repeats it.

``start`` opens the notebook's MLflow run: the child run the pipeline created for it (its id
arrives as the ``mlflow_run_id`` parameter), or, when the notebook runs on its own in
JupyterLab, a fresh run in the ``workbench-interactive`` experiment. ``finish`` records the
notebook's results: metrics to MLflow and ``metrics.json`` in the run folder.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import mlflow

from workbench import tracking
from workbench.config import ProjectPaths

log = logging.getLogger(__name__)

INTERACTIVE_EXPERIMENT = "workbench-interactive"


@dataclass
class NotebookRun:
    """The context of one executing notebook.

    Attributes
    ----------
    name : str
        The notebook's name (``40_collaborative``).
    run_dir : Path
        Folder for this notebook's outputs (plots, ``metrics.json``).
    paths : ProjectPaths
        The project's folders (curated layer, raw layer, experiments).
    run_id : str
        The MLflow run this notebook logs to.
    """

    name: str
    run_dir: Path
    paths: ProjectPaths
    run_id: str
    metrics: dict[str, float] = field(default_factory=dict)

    def curated_dir(self, dataset: str) -> Path:
        """The curated folder of ``dataset``."""
        return self.paths.curated / dataset

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        """Log numeric metrics to the run and keep them for ``metrics.json``."""
        clean = {key: float(value) for key, value in metrics.items()}
        self.metrics.update(clean)
        mlflow.log_metrics(clean, step=step)

    def log_figure(self, figure, name: str):
        """Save a figure in ``run_dir/plots`` and log it to the run; return it for display."""
        tracking.log_figure(figure, name, self.run_dir)
        return figure

    def pseudonym_key(self) -> bytes:
        """The pseudonymization key: ``WORKBENCH_PSEUDONYM_KEY``, else a git-ignored key file
        (``data/secrets/pseudonym.key``) created on first use, so pseudonyms are stable."""
        from workbench.data import privacy

        return privacy.resolve_key(
            os.environ.get("WORKBENCH_PSEUDONYM_KEY"), self.paths.pseudonym_key_file
        )

    def finish(self, metrics: dict[str, float] | None = None) -> dict[str, float]:
        """Record final metrics (MLflow and ``run_dir/metrics.json``); return all of them."""
        if metrics:
            self.log_metrics(metrics)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "metrics.json").write_text(json.dumps(self.metrics, indent=2) + "\n")
        log.info("%s: %d metrics recorded in %s", self.name, len(self.metrics), self.run_dir)
        return self.metrics


def start(
    name: str,
    mlflow_run_id: str = "",
    run_dir: str = "",
    tracking_uri: str = "",
) -> NotebookRun:
    """Open the MLflow run of notebook ``name`` and return its context.

    Parameters
    ----------
    name : str
        The notebook's name, used for the interactive run and the default run folder.
    mlflow_run_id : str
        The child run created by the pipeline; empty when run by hand.
    run_dir : str
        Where outputs go; ``experiments/runs/interactive/<name>`` when empty.
    tracking_uri : str
        Overrides ``MLFLOW_TRACKING_URI`` and the embedded default.
    """
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    paths = ProjectPaths.discover()
    tracking.configure(tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or paths.tracking_uri)
    if mlflow.active_run() is not None:
        mlflow.end_run()
    if mlflow_run_id:
        run = mlflow.start_run(run_id=mlflow_run_id)
    else:
        experiment_id = tracking.ensure_experiment(INTERACTIVE_EXPERIMENT, paths.artifacts)
        run = mlflow.start_run(experiment_id=experiment_id, run_name=name)
        mlflow.set_tag("workbench.notebook", name)
    folder = Path(run_dir) if run_dir else paths.runs / "interactive" / name
    folder.mkdir(parents=True, exist_ok=True)
    return NotebookRun(name=name, run_dir=folder, paths=paths, run_id=run.info.run_id)
