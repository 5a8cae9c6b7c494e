"""Optuna studies whose trials are nested MLflow runs.

A study persists in real storage (SQLite by default) and resumes with ``load_if_exists``;
the sampler is seeded. Each family's search space lives beside its model, as a function
``suggest(trial) -> dict`` of hyperparameters.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import mlflow
import optuna

log = logging.getLogger(__name__)


def create_study(
    study_name: str,
    storage: str | None,
    seed: int = 42,
    direction: str = "maximize",
    pruner: optuna.pruners.BasePruner | None = None,
) -> optuna.Study:
    """A seeded TPE study in ``storage`` (resumed when it exists).

    Parameters
    ----------
    study_name : str
    storage : str, optional
        An Optuna storage URL such as ``sqlite:///experiments/optuna.db``; in memory when None.
    seed : int
    direction : {"maximize", "minimize"}
    pruner : optuna pruner, optional
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(
        study_name=study_name,
        storage=storage,
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=pruner or optuna.pruners.NopPruner(),
        direction=direction,
        load_if_exists=True,
    )


def optimize(
    study: optuna.Study,
    objective: Callable[[optuna.Trial], float],
    n_trials: int,
    metric_name: str,
    show_progress_bar: bool = True,
    timeout: float | None = None,
) -> optuna.Study:
    """Run ``n_trials`` more trials, each inside a nested MLflow run under the active run.

    The nested run records the trial's parameters, ``metric_name`` (its value), its number
    and state; pruned and failed trials are recorded too. The parent run gets
    ``best_<metric_name>`` and the best parameters prefixed with ``best.``.
    """
    parent = mlflow.active_run()

    def tracked(trial: optuna.Trial) -> float:
        with mlflow.start_run(
            run_name=f"{study.study_name}-trial-{trial.number}", nested=parent is not None
        ):
            mlflow.set_tags({"optuna.study": study.study_name, "optuna.trial": trial.number})
            try:
                value = objective(trial)
            except optuna.TrialPruned:
                mlflow.log_params(trial.params)
                mlflow.set_tag("optuna.state", "PRUNED")
                raise
            mlflow.log_params(trial.params)
            mlflow.log_metric(metric_name, value)
            mlflow.set_tag("optuna.state", "COMPLETE")
            return value

    study.optimize(tracked, n_trials=n_trials, timeout=timeout, show_progress_bar=show_progress_bar)
    if parent is not None and _has_complete(study):
        mlflow.log_metric(f"best_{metric_name}", study.best_value)
        mlflow.log_params({f"best.{study.study_name}.{k}": v for k, v in study.best_params.items()})
    return study


def _has_complete(study: optuna.Study) -> bool:
    return any(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)


def best_params(study: optuna.Study, defaults: dict[str, Any] | None = None) -> dict[str, Any]:
    """The best trial's parameters over ``defaults`` (for fixed, untuned settings)."""
    return {**(defaults or {}), **study.best_params}
