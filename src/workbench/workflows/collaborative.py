"""The collaborative-filtering experiment: split, tune each family, refit, evaluate once.

Shared by ``notebooks/40_collaborative.ipynb`` and ``benchmarks/movielens.py``:

1. ``prepare_splits``: unique user-item pairs, an outer train/test split, and a validation
   split carved from the training part only; matrices share one pair of id maps;
2. ``run_family``: an Optuna study on (fit, valid), the best configuration refit on the whole
   training part and evaluated once on test;
3. ``comparison_table``: one row per family.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from workbench import tuning
from workbench.data import splits
from workbench.data.interactions import IdMap, build_interactions
from workbench.evaluation import evaluate
from workbench.models import registry
from workbench.models.base import Recommender
from workbench.models.registry import Family

log = logging.getLogger(__name__)

RANDOM_SPLITS = ("stratified", "random")
TABLE_COLUMNS = ["precision_at_{k}", "recall_at_{k}", "ndcg_at_{k}", "map", "map_at_{k}"]


@dataclass(frozen=True)
class SplitMatrices:
    """Users x items matrices of one experiment, all indexed by the same maps.

    Attributes
    ----------
    train, test : csr_matrix of shape (n_users, n_items)
        The outer split.
    fit, valid : csr_matrix of shape (n_users, n_items)
        A partition of ``train``: tuning fits on ``fit`` and scores on ``valid``.
    users, items : IdMap
    extra_folds : list of (csr_matrix, csr_matrix)
        More ``(fit, valid)`` partitions of ``train``, each drawn with its own seed.
    """

    train: Any
    test: Any
    fit: Any
    valid: Any
    users: IdMap
    items: IdMap
    extra_folds: list = field(default_factory=list)

    @property
    def folds(self) -> list:
        """Every validation fold ``(fit, valid)``, the first one first."""
        return [(self.fit, self.valid), *self.extra_folds]


def interaction_pairs(events: pd.DataFrame) -> pd.DataFrame:
    """One row per user-item pair: its number of events and its first timestamp.

    Parameters
    ----------
    events : DataFrame
        The contract's ``events`` (``user_id``, ``item_id``, ``timestamp``).

    Returns
    -------
    DataFrame with columns user_id, item_id, n_events, timestamp
        Sorted by user, then item, so splits do not depend on the input order.
    """
    grouped = events.groupby(["user_id", "item_id"], sort=True, observed=True)
    pairs = grouped.agg(n_events=("item_id", "size"), timestamp=("timestamp", "min"))
    return pairs.reset_index()


def prepare_splits(
    pairs: pd.DataFrame,
    method: str = "stratified",
    ratio: float = 0.75,
    valid_ratio: float = 0.75,
    seed: int = 42,
    n_folds: int = 1,
    **split_kwargs,
) -> SplitMatrices:
    """Outer split of ``pairs``, then a validation split of its training part.

    Parameters
    ----------
    pairs : DataFrame
        Unique user-item pairs (``user_id``, ``item_id``, ``timestamp``).
    method : {"stratified", "random", "chronological", "leave_last_out"}
        Splitter of ``workbench.data.splits`` for both splits.
    ratio : float
        Training share of the outer split.
    valid_ratio : float
        Share of the training part kept for fitting during tuning.
    seed : int
        Seed of the outer split; validation fold ``f`` uses ``seed + 1 + f``.
    n_folds : int
        Validation splits of the training part (repeated random splits, not a partition);
        tuning averages over them. Deterministic splitters give one fold.
    **split_kwargs
        Passed to both splitters (``filter_by``, ``n``).

    Returns
    -------
    SplitMatrices
        Binary matrices over every user and item of ``pairs`` (items only in test are
        columns without training data, as in the reference protocol).
    """
    train, test = splits.validation_split(pairs, method, ratio, seed, **split_kwargs)
    users = IdMap.from_values(np.sort(pairs["user_id"].astype(str).unique()))
    items = IdMap.from_values(np.sort(pairs["item_id"].astype(str).unique()))

    def matrix(part: pd.DataFrame):
        return build_interactions(part, users, items).user_items

    seeds = range(seed + 1, seed + 1 + (n_folds if method in RANDOM_SPLITS else 1))
    folds = [
        tuple(map(matrix, splits.validation_split(train, method, valid_ratio, s, **split_kwargs)))
        for s in seeds
    ]
    log.info(
        "split %d pairs (%d users, %d items): train %d, test %d; %d validation fold(s)",
        len(pairs),
        len(users),
        len(items),
        len(train),
        len(test),
        len(folds),
    )
    (fit, valid), *extra = folds
    return SplitMatrices(matrix(train), matrix(test), fit, valid, users, items, extra)


@dataclass
class FamilyResult:
    """A family's tuned and refitted model with its figures.

    Attributes
    ----------
    name : str
    model : Recommender
        Refit on the whole training part.
    params : dict
        The chosen hyperparameters.
    valid_score : float
        Best validation nDCG@k of the study.
    metrics : dict
        Test metrics plus ``fit_seconds`` and ``eval_seconds``.
    n_trials : int
    """

    name: str
    model: Recommender
    params: dict
    valid_score: float
    metrics: dict[str, float] = field(default_factory=dict)
    n_trials: int = 0


def run_family(
    name: str,
    family: Family,
    data: SplitMatrices,
    n_trials: int,
    storage: str | None,
    study_prefix: str,
    k: int = 10,
    seed: int = 42,
    timeout: float | None = None,
    blas_threads: int | None = 1,
) -> FamilyResult:
    """Tune family ``name`` on the validation split, refit on train, evaluate once on test.

    Trials are MLflow runs nested under the active run when there is one; without an active
    run nothing is tracked.

    Parameters
    ----------
    name : str
    family : Family
    data : SplitMatrices
    n_trials : int
    storage : str, optional
        Optuna storage URL; in memory when None.
    study_prefix : str
        The study is ``<study_prefix>-<name>``; put the data set and its digest in it so a
        resumed study never mixes data.
    k : int
    seed : int
    timeout : float, optional
        Seconds of tuning at most.
    blas_threads : int, optional
        BLAS threads while tuning and refitting (None leaves the default). One thread is
        much faster on a shared machine, where idle BLAS threads spin for busy cores.

    Returns
    -------
    FamilyResult
    """
    with threadpool_limits(blas_threads, "blas"):
        return _run_family(name, family, data, n_trials, storage, study_prefix, k, seed, timeout)


def _run_family(name, family, data, n_trials, storage, study_prefix, k, seed, timeout):
    objective = tuning.RecommenderObjective(family, data.folds, k=k, seed=seed)
    study = tuning.tune_family(
        name, objective, n_trials, storage, study_prefix, seed, timeout=timeout
    )
    params = study.best_params
    model = family.make(params, seed=seed)
    start = time.perf_counter()
    model.fit(data.train)
    fit_seconds = time.perf_counter() - start
    metrics = evaluate(model, data.train, data.test, k=k)
    metrics["fit_seconds"] = fit_seconds
    log.info(
        "%s: valid ndcg@%d %.4f, test ndcg@%d %.4f, params %s",
        name,
        k,
        study.best_value,
        k,
        metrics[f"ndcg_at_{k}"],
        params,
    )
    return FamilyResult(name, model, params, study.best_value, metrics, len(study.trials))


def comparison_table(results: list[FamilyResult], k: int = 10) -> pd.DataFrame:
    """One row per family, best test nDCG@k first.

    Returns
    -------
    DataFrame indexed by family
        Validation nDCG, every test metric, fit and evaluation seconds, trials.
    """
    rows = {
        result.name: {
            f"valid_ndcg_at_{k}": result.valid_score,
            **result.metrics,
            "n_trials": result.n_trials,
        }
        for result in results
    }
    table = pd.DataFrame.from_dict(rows, orient="index")
    return table.sort_values(f"ndcg_at_{k}", ascending=False)


def table_columns(k: int) -> list[str]:
    """The reference table's metric columns at cut-off ``k``."""
    return [column.format(k=k) for column in TABLE_COLUMNS]


def compare_families(
    names: list[str],
    data: SplitMatrices,
    n_trials: int,
    storage: str | None,
    study_prefix: str,
    k: int = 10,
    seed: int = 42,
    timeout: float | None = None,
) -> list[FamilyResult]:
    """``run_family`` for each family, each inside its own MLflow run nested in the active one.

    Each family's run records its chosen parameters, its test metrics and training time; the
    trials are nested below it.

    Returns
    -------
    list of FamilyResult
        In the order of ``names``.
    """
    results = []
    for name in names:
        family = registry.get_family(name)
        parent = mlflow.active_run()
        with mlflow.start_run(
            run_name=f"{study_prefix}-{name}",
            nested=parent is not None,
            experiment_id=parent.info.experiment_id if parent is not None else None,
        ):
            mlflow.set_tags({"workbench.family": name, "workbench.stage": "collaborative"})
            result = run_family(
                name, family, data, n_trials, storage, study_prefix, k, seed, timeout
            )
            mlflow.log_params({f"param.{key}": value for key, value in result.params.items()})
            mlflow.log_metrics({**result.metrics, f"valid_ndcg_at_{k}": result.valid_score})
        results.append(result)
    return results


def select_best(results: list[FamilyResult]) -> FamilyResult:
    """The family with the best validation score: the test split does not choose the model."""
    return max(results, key=lambda result: result.valid_score)
