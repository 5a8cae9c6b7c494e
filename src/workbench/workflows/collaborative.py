"""The collaborative-filtering experiment: tune each family, refit, evaluate once.

Shared by ``notebooks/40_collaborative.ipynb``, ``notebooks/30_content_based.ipynb`` (its
collaborative baselines) and ``benchmarks/movielens.py``. The data come split already
(:func:`workbench.data.splits.prepare_splits`):

1. :class:`RecommenderObjective`: a trial fits a family on each validation fold's fit part
   and scores nDCG@k on its validation part (never the test split);
2. :func:`run_family`: the study, then the best configuration refit on the whole training
   part and evaluated once on test;
3. :func:`compare_families`: ``run_family`` for each family, each in its own nested run.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import optuna
from threadpoolctl import threadpool_limits

from workbench import tuning
from workbench.data.splits import SplitMatrices
from workbench.evaluation import evaluate, metrics, recommend_all
from workbench.models import cost
from workbench.models.catalogue import Family, get_family
from workbench.workflows.results import FamilyResult, tracked

if TYPE_CHECKING:
    from workbench.engines.engine import Engine

log = logging.getLogger(__name__)


class RecommenderObjective:
    """Optuna objective for one recommender family, holding the matrices loaded once.

    Each trial draws hyperparameters from the family's search space, fits on the fit part of
    each validation fold and returns the mean ``ndcg@k`` on the folds' validation parts
    (carved from the training part, never the test split). Iterative models report the first
    fold's validation score every ``report_every`` epochs, so the study's pruner can stop them.

    Parameters
    ----------
    family : workbench.models.catalogue.Family
    folds : list of (csr_matrix, csr_matrix)
        ``(fit, valid)`` pairs, each of shape (n_users, n_items).
    k : int
    seed : int
        ``random_state`` of seeded families.
    report_every : int
        Epochs between intermediate reports of iterative models.
    """

    def __init__(self, family: Family, folds, k: int = 10, seed: int = 42, report_every: int = 5):
        self.family = family
        self.folds = list(folds)
        self.k = k
        self.seed = seed
        self.report_every = report_every

    def score(self, model, fold: int = 0) -> float:
        """``ndcg@k`` of a model fitted on fold ``fold``'s fit part, on its validation part."""
        fit, valid = self.folds[fold]
        return metrics.ndcg_at_k(recommend_all(model, fit, self.k), valid)

    def __call__(self, trial: optuna.Trial) -> float:
        params = self.family.suggest(trial)
        scores, start = [], time.perf_counter()
        for fold, (fit, _) in enumerate(self.folds):
            model = self.family.make(params, seed=self.seed)
            reporting = self.family.iterative and fold == 0
            model.fit(fit, callback=self._reporter(trial) if reporting else None)
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


def run_family(
    name: str,
    data: SplitMatrices,
    budget: tuning.Budget,
    blas_threads: int | None = 1,
    engine: Engine | None = None,
) -> FamilyResult:
    """Tune family ``name`` on the validation folds, refit on train, evaluate once on test.

    Trials are MLflow runs nested under the active run when there is one; without an active
    run nothing is tracked. A family without hyperparameters gets one trial. The median pruner
    stops an iterative model whose intermediate validation score falls below the median of
    earlier trials at the same epoch.

    Parameters
    ----------
    name : str
        A family of the catalogue.
    data : SplitMatrices
    budget : Budget
        Its scope should name the data (digest) and the split, so that a resumed study never
        mixes trials scored on other data.
    blas_threads : int, optional
        BLAS threads while tuning and refitting (None leaves the default). One thread is
        much faster on a shared machine, where idle BLAS threads spin for busy cores.
    engine : workbench.engines.Engine, optional
        Where the family is fitted (``engine.family(name)``: ``als`` on Spark for the spark
        engine); the catalogue's family when None, as on the pandas engine.
    """
    family = get_family(name) if engine is None else engine.family(name)
    with threadpool_limits(blas_threads, "blas"):
        objective = RecommenderObjective(family, data.folds, k=budget.k, seed=budget.seed)
        pruner = optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0)
        n_trials = None if tuning.has_search_space(family.suggest) else 1
        study = tuning.run_study(
            name, objective, budget, f"valid_ndcg_at_{budget.k}", pruner, n_trials,
            n_folds=len(data.folds),
        )  # fmt: skip
        model = family.make(study.best_params, seed=budget.seed)
        start = time.perf_counter()
        model.fit(data.train)
        fit_seconds = time.perf_counter() - start
        scores = {**evaluate(model, data.train, data.test, k=budget.k), "fit_seconds": fit_seconds}
    log.info(
        "%s: valid ndcg@%d %.4f, test ndcg@%d %.4f, params %s",
        name, budget.k, study.best_value, budget.k, scores[f"ndcg_at_{budget.k}"],
        study.best_params,
    )  # fmt: skip
    return FamilyResult(
        name, model, study.best_params, study.best_value, scores, len(study.trials), budget.k
    )


def affordable(
    names: list[str], data: SplitMatrices, memory_budget: float | None = None
) -> list[str]:
    """The families of ``names`` whose fit fits ``memory_budget`` bytes; logs each one skipped.

    Parameters
    ----------
    names : list of str
    data : SplitMatrices
    memory_budget : float, optional
        Bytes a fit may hold at once; half the machine's physical memory when None.

    Returns
    -------
    list of str
        ``names`` in order, without the families that would not fit.
    """
    budget = memory_budget if memory_budget is not None else _half_of_memory()
    n_users, n_items = data.train.shape
    kept = []
    for name in names:
        ok, why = cost.fits(cost.estimate(name, n_users, n_items, data.train.nnz), budget)
        if ok:
            kept.append(name)
        else:
            log.warning("skipping %s on %d users x %d items: %s", name, n_users, n_items, why)
    return kept


def _half_of_memory() -> float:
    return 0.5 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def compare_families(
    names: list[str],
    data: SplitMatrices,
    budget: tuning.Budget,
    stage: str = "collaborative",
    memory_budget: float | None = None,
    engine: Engine | None = None,
) -> list[FamilyResult]:
    """:func:`run_family` for each family that fits in memory, each in its own MLflow run.

    Each family's run records its chosen hyperparameters, its test metrics and training time;
    the trials are nested below it. A family whose estimated cost (``models.cost``) exceeds
    ``memory_budget`` is skipped with a logged reason (:func:`affordable`). ``engine`` is passed
    to :func:`run_family`.

    Returns
    -------
    list of FamilyResult
        In the order of ``names``, skipped families left out.
    """
    return [
        tracked(name, stage, lambda name=name: run_family(name, data, budget, engine=engine))
        for name in affordable(names, data, memory_budget)
    ]
