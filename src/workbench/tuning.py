"""Optuna studies whose trials are nested MLflow runs.

A study persists in real storage (SQLite by default) and resumes with ``load_if_exists``;
the sampler is seeded. Each family's search space lives beside its model, as a function
``suggest(trial) -> dict`` of hyperparameters.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import mlflow
import numpy as np
import optuna
from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient

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
        tags = {"optuna.study": study.study_name, "optuna.trial": str(trial.number)}
        with mlflow.start_run(
            run_name=f"{study.study_name}-trial-{trial.number}",
            nested=parent is not None,
            experiment_id=parent.info.experiment_id if parent is not None else None,
            tags=tags,
        ) as run:
            state, metrics = "FAIL", {}
            try:
                value = objective(trial)
                state, metrics = "COMPLETE", {metric_name: value}
                return value
            except optuna.TrialPruned:
                state = "PRUNED"
                raise
            finally:
                _log_trial(run.info.run_id, trial.params, metrics, state)

    study.optimize(tracked, n_trials=n_trials, timeout=timeout, show_progress_bar=show_progress_bar)
    if parent is not None and has_complete(study):
        mlflow.log_metric(f"best_{metric_name}", study.best_value)
        mlflow.log_params({f"best.{study.study_name}.{k}": v for k, v in study.best_params.items()})
    return study


def _log_trial(run_id: str, params: dict, metrics: dict, state: str) -> None:
    """One batched write of a trial's parameters, value and state (one round trip)."""
    now = int(time.time() * 1000)
    MlflowClient().log_batch(
        run_id,
        metrics=[Metric(key, float(value), now, 0) for key, value in metrics.items()],
        params=[Param(key, str(value)) for key, value in params.items()],
        tags=[RunTag("optuna.state", state)],
    )


def has_complete(study: optuna.Study) -> bool:
    """Whether any trial of ``study`` completed."""
    return any(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)


class RecommenderObjective:
    """Optuna objective for one recommender family, holding the matrices loaded once.

    Each trial draws hyperparameters from the family's search space, fits on the fit part of
    each validation fold and returns the mean ``ndcg@k`` on the folds' validation parts (carved
    from the training part, never the test split). Iterative models report the first fold's
    validation score every ``report_every`` epochs, so the study's pruner can stop them early.

    Parameters
    ----------
    family : workbench.models.registry.Family
    folds : list of (csr_matrix, csr_matrix)
        ``(fit, valid)`` pairs, each of shape (n_users, n_items).
    k : int
    seed : int
        ``random_state`` of seeded families.
    report_every : int
        Epochs between intermediate reports of iterative models.
    """

    def __init__(self, family, folds, k: int = 10, seed: int = 42, report_every: int = 5):
        self.family = family
        self.folds = list(folds)
        self.k = k
        self.seed = seed
        self.report_every = report_every

    def score(self, model, fold: int = 0) -> float:
        """``ndcg@k`` of a model fitted on fold ``fold``'s fit part, on its validation part."""
        from workbench.evaluation import metrics, recommend_all

        fit, valid = self.folds[fold]
        return metrics.ndcg_at_k(recommend_all(model, fit, self.k), valid)

    def __call__(self, trial: optuna.Trial) -> float:
        params = self.family.suggest(trial)
        scores, start = [], time.perf_counter()
        for fold, (fit, _) in enumerate(self.folds):
            model = self.family.make(params, seed=self.seed)
            iterative = getattr(model, "iterative", False) and fold == 0
            model.fit(fit, callback=self._reporter(trial) if iterative else None)
            scores.append(self.score(model, fold))
        trial.set_user_attr("fit_seconds", (time.perf_counter() - start) / len(self.folds))
        trial.set_user_attr("fold_scores", scores)
        return float(np.mean(scores))

    def _reporter(self, trial: optuna.Trial) -> Callable:
        def report(epoch: int, model) -> None:
            step = epoch + 1
            if step % self.report_every:
                return
            trial.report(self.score(model), step)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned at epoch {step}")

        return report


def tune_family(
    name: str,
    objective: RecommenderObjective,
    n_trials: int,
    storage: str | None,
    study_prefix: str,
    seed: int = 42,
    metric_name: str = "valid_ndcg",
    timeout: float | None = None,
) -> optuna.Study:
    """Study ``<study_prefix>-<name>`` of one family, run for ``n_trials`` more trials.

    Trials are nested MLflow runs when a run is active, untracked otherwise. A family without
    hyperparameters gets one trial in all. The median pruner stops an iterative model whose
    intermediate validation score falls below the median of earlier trials at the same epoch.

    Returns
    -------
    optuna.Study
    """
    pruner = optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0)
    study = create_study(f"{study_prefix}-{name}", storage, seed=seed, pruner=pruner)
    if not has_search_space(objective.family):
        if has_complete(study):
            return study
        n_trials = 1
    if mlflow.active_run() is None:
        study.optimize(objective, n_trials=n_trials, timeout=timeout)
        return study
    return optimize(
        study, objective, n_trials, metric_name, show_progress_bar=False, timeout=timeout
    )


def has_search_space(family) -> bool:
    """Whether the family's ``suggest`` draws any hyperparameter."""
    return bool(family.suggest(optuna.create_study().ask()))
