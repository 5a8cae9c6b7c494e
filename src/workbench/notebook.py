"""What every notebook does at its start and end, so no notebook repeats it.

``start`` opens the notebook's MLflow run: the child run the pipeline created for it (its id
arrives as the ``mlflow_run_id`` parameter), or, when the notebook runs on its own in
JupyterLab, a fresh run in the ``workbench-interactive`` experiment. ``finish`` records the
notebook's results: metrics to MLflow and ``metrics.json`` in the run folder.

In between, :meth:`NotebookRun.dataset` opens a curated data set and records it as the run's
input (one way of tagging lineage), :meth:`NotebookRun.sized` applies the smoke sizes (one
table, :data:`SMOKE_SIZES`, for every notebook) and :meth:`NotebookRun.budget` builds the
tuning budget whose scope names the notebook and the data set's digest.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import mlflow
import pandas as pd

from workbench import config, tracking, tuning
from workbench.config import ProjectPaths
from workbench.data.curated import CuratedDataset

log = logging.getLogger(__name__)

INTERACTIVE_EXPERIMENT = "workbench-interactive"
#: Set by ``workbench run``: Optuna storage and worker processes of every study.
STORAGE_VARIABLE = "WORKBENCH_OPTUNA_STORAGE"
WORKERS_VARIABLE = "WORKBENCH_TUNING_WORKERS"

#: Size knobs of every notebook and their value in smoke mode (tests, quick checks); a knob
#: whose configured value is already smaller keeps it.
SMOKE_SIZES = {
    "n_trials": 2,
    "horizon": 600,
    "n_logged": 4000,
    "two_tower_epochs": 3,
    "two_tower_trials": 0,
    "n_users": 300,
    "n_days": 14,
}
#: Notebooks whose smoke size of a knob differs: the persona search needs a trial per
#: k-means size up to the planted number of personas.
SMOKE_OVERRIDES = {"20_personas": {"n_trials": 3}}


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
    smoke: bool = False
    interactive: bool = False
    metrics: dict[str, float] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)

    @property
    def experiment_id(self) -> str:
        """The MLflow experiment of this notebook's run (the pipeline's, or the interactive one)."""
        return mlflow.get_run(self.run_id).info.experiment_id

    def elapsed(self) -> float:
        """Seconds since the notebook started."""
        return time.perf_counter() - self.started

    def sized(self, **values: int) -> dict[str, int]:
        """``values`` as given, or shrunk to their smoke size when the notebook runs smoke."""
        if not self.smoke:
            return dict(values)
        sizes = {**SMOKE_SIZES, **SMOKE_OVERRIDES.get(self.name, {})}
        return {key: min(value, sizes.get(key, value)) for key, value in values.items()}

    def dataset(self, name: str) -> CuratedDataset:
        """Curated data set ``name``, recorded as this run's input at its digest."""
        dataset = CuratedDataset(name, self.paths.curated / name)
        tracking.log_curated_dataset(name, dataset.folder, dataset.digest)
        return dataset

    def budget(
        self,
        dataset: CuratedDataset,
        n_trials: int,
        seed: int = 42,
        k: int = 10,
        storage: str = "",
        timeout: float = 0.0,
        fresh: bool = False,
        **scope,
    ) -> tuning.Budget:
        """The tuning budget of this notebook (smoke-sized), in ``storage``, else
        ``WORKBENCH_OPTUNA_STORAGE`` (the tracking server's PostgreSQL), else the project's
        Optuna store, tuned by ``WORKBENCH_TUNING_WORKERS`` processes (``workbench run
        --workers``); every study's identity covers the notebook, the data set's digest and
        ``scope`` (the settings that shape the objectives)."""
        return tuning.Budget(
            n_trials=self.sized(n_trials=n_trials)["n_trials"],
            storage=storage or os.environ.get(STORAGE_VARIABLE) or self.paths.optuna_storage,
            n_workers=int(os.environ.get(WORKERS_VARIABLE) or 1),
            seed=seed,
            k=k,
            timeout=timeout or None,
            fresh=fresh,
            scope={
                "notebook": self.name,
                "dataset": dataset.name,
                "digest": dataset.digest,
                **scope,
            },
        )

    def curated_dir(self, dataset: str) -> Path:
        """The curated folder of ``dataset``."""
        return self.paths.curated / dataset

    def log_metrics(self, metrics: dict[str, float | None], step: int | None = None) -> None:
        """Log numeric metrics to the run and keep them for ``metrics.json`` (None: skipped)."""
        clean = {key: float(value) for key, value in metrics.items() if value is not None}
        self.metrics.update(clean)
        mlflow.log_metrics(clean, step=step)

    def set_tags(self, **tags: str) -> None:
        """Tag the notebook's run (``bandits.context="personas"``)."""
        mlflow.set_tags(tags)

    def log_figure(self, figure, name: str) -> None:
        """Save a figure in ``run_dir/plots``, log it to the run and show it once, inline."""
        tracking.log_figure(figure, name, self.run_dir)
        _show_once(figure)

    def log_figures(self, figures: dict, prefix: str = "") -> None:
        """``log_figure`` for each ``name: figure``, saved as ``<prefix><name>``."""
        for name, figure in figures.items():
            self.log_figure(figure, f"{prefix}{name}")

    def log_table(self, table: pd.DataFrame, name: str, index: str | None = None) -> None:
        """Log a small table as ``tables/<name>.csv``, with its index as column ``index``."""
        tracking.log_frame(table.reset_index(names=index) if index else table, name)

    def pseudonym_key(self) -> bytes:
        """The project's pseudonymization key (``workbench.config.pseudonym_key``)."""
        return config.pseudonym_key(self.paths)

    def finish(
        self, metrics: dict[str, float] | None = None, headline: dict[str, float] | None = None
    ) -> dict[str, float]:
        """Record final metrics (MLflow and ``run_dir/metrics.json``); return all of them.

        ``headline`` holds the few figures that sum the notebook up under the shared metric
        names (``ndcg_at_10`` of the chosen model): logged to the notebook's run like the
        others, written to ``headline.json`` for the pipeline's parent run and summary.
        """
        self.log_metrics({**(metrics or {}), **(headline or {})})
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "metrics.json").write_text(json.dumps(self.metrics, indent=2) + "\n")
        chosen = {key: float(value) for key, value in (headline or {}).items() if value is not None}
        (self.run_dir / "headline.json").write_text(json.dumps(chosen, indent=2) + "\n")
        log.info("%s: %d metrics recorded in %s", self.name, len(self.metrics), self.run_dir)
        return self.metrics


def start(
    name: str,
    mlflow_run_id: str = "",
    run_dir: str = "",
    smoke: bool = False,
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
    smoke : bool
        Shrink every size knob to :data:`SMOKE_SIZES` (see :meth:`NotebookRun.sized`).
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
    return NotebookRun(name, folder, paths, run.info.run_id, smoke, not mlflow_run_id)


def _show_once(figure) -> None:
    """Display ``figure`` in the running notebook, then close it so the inline backend does
    not show it a second time (outside IPython it is only closed)."""
    import matplotlib.pyplot as plt
    from IPython import get_ipython
    from IPython.display import display

    if get_ipython() is not None:
        display(figure)
    plt.close(figure)
