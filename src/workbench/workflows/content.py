"""The content-based experiment: content, hybrid and two-tower models on a cold-start split.

Shared by ``notebooks/30_content_based.ipynb`` and ``benchmarks/content.py``:

1. ``weighted_pairs`` and ``prepare_cold_start``: unique user-item pairs with rating- and
   recency-weighted confidences; an outer split that withholds a share of the items from
   training entirely (their pairs all go to test) and splits the rest per item; a validation
   split carved the same way from the training part only;
2. ``item_features``: TF-IDF profiles (content model, explanations) and dense vectors
   (TF-IDF SVD plus categories) for the two-tower model;
3. ``tune_content``, ``tune_hybrid``, ``tune_two_tower``: choose hyperparameters on the
   validation split, refit on the whole training part;
4. ``evaluate_cold``: test metrics overall and on the test pairs whose item had fewer than
   ``N`` training interactions (``coldstart_*``), which includes every withheld item.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import optuna
import pandas as pd
import scipy.sparse as sp
from sklearn.base import clone

from workbench import tuning
from workbench.collaborative import FamilyResult, SplitMatrices, interaction_pairs
from workbench.data import splits
from workbench.data.coldstart import cold_start_split, restrict_to_items, sparse_items
from workbench.data.interactions import IdMap, build_interactions
from workbench.evaluation import metrics, recommend_all
from workbench.features.text import (
    ItemProfiles,
    build_item_profiles,
    category_indicators,
    profile_embeddings,
)
from workbench.models import content, hybrid, neural
from workbench.models.base import Recommender

log = logging.getLogger(__name__)

REPORTED = ("precision", "recall", "ndcg", "hit_rate")


@dataclass(frozen=True)
class ColdStartData:
    """Matrices of a cold-start experiment and the item masks that define its subsets.

    Attributes
    ----------
    matrices : SplitMatrices
        ``train``/``test`` and ``fit``/``valid`` (a partition of ``train``), confidences.
    withheld : ndarray of bool, shape (n_items,)
        Items withheld from ``train`` (all their pairs are in ``test``).
    sparse_test, sparse_valid : ndarray of bool, shape (n_items,)
        Items with fewer than ``max_interactions`` pairs in ``train`` (resp. ``fit``).
    """

    matrices: SplitMatrices
    withheld: np.ndarray
    sparse_test: np.ndarray
    sparse_valid: np.ndarray


def weighted_pairs(events: pd.DataFrame, half_life_days: float | None = None) -> pd.DataFrame:
    """Unique user-item pairs with ``weight``: the largest ``interaction_weights`` of the pair.

    Returns
    -------
    DataFrame with columns user_id, item_id, n_events, timestamp, weight
    """
    pairs = interaction_pairs(events)
    weights = events[["user_id", "item_id"]].assign(
        weight=content.interaction_weights(events, half_life_days)
    )
    best = weights.groupby(["user_id", "item_id"], observed=True)["weight"].max()
    keys = pd.MultiIndex.from_frame(pairs[["user_id", "item_id"]])
    return pairs.assign(weight=best.reindex(keys).to_numpy())


def _split(pairs: pd.DataFrame, fraction: float, ratio: float, seed: int):
    def warm(frame):
        return splits.stratified_split(frame, ratio, seed=seed)

    return cold_start_split(pairs, fraction, seed=seed, warm_split=warm)


def prepare_cold_start(
    pairs: pd.DataFrame,
    cold_item_fraction: float = 0.1,
    ratio: float = 0.75,
    max_interactions: int = 5,
    seed: int = 42,
) -> ColdStartData:
    """Outer cold-start split, then a validation split of the training part made the same way.

    Parameters
    ----------
    pairs : DataFrame
        ``weighted_pairs`` (or any pairs with a ``weight`` column).
    cold_item_fraction : float
        Share of items withheld from training (outer split), and from fitting (validation).
    ratio : float
        Per-item training share of the other items' pairs (both splits).
    max_interactions : int
        ``N``: an item with fewer training pairs is in the cold-start subset.
    seed : int
        Outer split; the validation split uses ``seed + 1``.
    """
    train, test, withheld = _split(pairs, cold_item_fraction, ratio, seed)
    fit, valid, _ = _split(train, cold_item_fraction, ratio, seed + 1)
    users = IdMap.from_values(np.sort(pairs["user_id"].astype(str).unique()))
    items = IdMap.from_values(np.sort(pairs["item_id"].astype(str).unique()))
    parts = {"train": train, "test": test, "fit": fit, "valid": valid}
    matrices = {
        name: build_interactions(part, users, items, weight="weight", binary=False).user_items
        for name, part in parts.items()
    }
    data = SplitMatrices(users=users, items=items, **matrices)
    log.info("cold-start split: %s", {name: len(part) for name, part in parts.items()})
    return ColdStartData(
        matrices=data,
        withheld=np.isin(items.ids, withheld),
        sparse_test=sparse_items(data.train, max_interactions),
        sparse_valid=sparse_items(data.fit, max_interactions),
    )


def item_features(
    items: pd.DataFrame, item_index: IdMap, n_components: int = 32, seed: int = 42, **profile_kw
) -> tuple[ItemProfiles, np.ndarray]:
    """TF-IDF profiles and dense two-tower features of ``items`` in ``item_index`` order.

    Returns
    -------
    profiles : ItemProfiles of shape (n_items, n_terms)
    dense : ndarray of shape (n_items, n_components + n_categories)
        TF-IDF SVD vectors next to category indicators.
    """
    profiles = build_item_profiles(items, item_index, **profile_kw)
    text = profile_embeddings(profiles, n_components, random_state=seed)
    categories = category_indicators(items, item_index)
    return profiles, np.hstack([text, categories]).astype(np.float32)


def user_context_features(
    events: pd.DataFrame, data: ColdStartData, part: str = "train"
) -> np.ndarray:
    """Standardized context habits of each user (daypart, weekend, device, channel shares).

    Computed from the events of the pairs in ``part`` only (``"fit"`` while tuning,
    ``"train"`` for the final model), so no held-out interaction leaks into the features.

    Returns
    -------
    ndarray of shape (n_users, n_features), float32; zeros for users without such events
    """
    from workbench.features.context import context

    m = data.matrices
    matrix = getattr(m, part)
    rows = m.users.to_index(events["user_id"], missing=-1)
    cols = m.items.to_index(events["item_id"], missing=-1)
    keep = (rows >= 0) & (cols >= 0)
    keep[keep] = np.asarray(matrix[rows[keep], cols[keep]]).ravel() != 0
    kept = events[keep]
    table = context(kept, kept["timestamp"].max()).select_dtypes("number")
    table = table.reindex(m.users.ids).fillna(0.0)
    centred = table - table.mean()
    return (centred / table.std().replace(0.0, 1.0)).fillna(0.0).to_numpy(np.float32)


def evaluate_cold(model: Recommender, data: ColdStartData, k: int = 10) -> dict[str, float]:
    """Test metrics of a model fit on ``train``: all pairs, and the cold-start subset."""
    m = data.matrices
    recommended = recommend_all(model, m.train, k)  # once, for both test sets
    cold_test = restrict_to_items(m.test, data.sparse_test)
    result = {}
    for name in REPORTED:
        score = getattr(metrics, f"{name}_at_k")
        result[f"{name}_at_{k}"] = score(recommended, m.test, k)
        result[f"coldstart_{name}_at_{k}"] = score(recommended, cold_test, k)
    result["map"] = metrics.mean_average_precision(recommended, m.test)
    result["coldstart_users"] = float(np.count_nonzero(np.diff(cold_test.indptr)))
    return result


def validation_score(
    data: ColdStartData, k: int = 10, coldstart: bool = False
) -> Callable[[Recommender], float]:
    """``score(model) -> nDCG@k`` on the validation split for a model fit on ``fit``.

    With ``coldstart``, only the validation pairs of items with fewer than ``N`` fitting
    pairs count (the validation counterpart of the ``coldstart_*`` test metrics).
    """
    m = data.matrices
    valid = restrict_to_items(m.valid, data.sparse_valid) if coldstart else m.valid

    def score(model: Recommender) -> float:
        return metrics.ndcg_at_k(recommend_all(model, m.fit, k), valid, k)

    return score


class ScoringObjective:
    """Optuna objective over scoring-time parameters of a fitted model: no refit per trial.

    Parameters
    ----------
    model : Recommender
        Fitted on the fit part; ``suggest(trial)`` only draws parameters used at scoring.
    suggest : callable
        ``suggest(trial) -> dict`` of parameters for ``model.set_params``.
    score : callable
        ``score(model) -> float`` to maximize (validation nDCG).
    """

    def __init__(self, model: Recommender, suggest: Callable, score: Callable):
        self.model, self.suggest, self.score = model, suggest, score

    def __call__(self, trial: optuna.Trial) -> float:
        self.model.set_params(**self.suggest(trial))
        return float(self.score(self.model))


def _run_study(
    name: str, objective: Callable, n_trials: int, storage: str | None, study_prefix: str, seed: int
) -> optuna.Study:
    """``n_trials`` trials of a seeded, persisted study; nested MLflow runs when one is active."""
    study = tuning.create_study(f"{study_prefix}-{name}", storage, seed=seed)
    import mlflow

    if mlflow.active_run() is None:
        study.optimize(objective, n_trials=n_trials)
    else:
        tuning.optimize(study, objective, n_trials, "valid_ndcg", show_progress_bar=False)
    return study


def _result(name, model, params, valid_score, data, k, fit_seconds, n_trials) -> FamilyResult:
    scores = evaluate_cold(model, data, k)
    scores["fit_seconds"] = fit_seconds
    log.info("%s: valid ndcg %.4f, test %s", name, valid_score, scores)
    return FamilyResult(name, model, dict(params), float(valid_score), scores, n_trials)


def _refit(model: Recommender, user_items: sp.csr_matrix, **fit_kwargs) -> float:
    start = time.perf_counter()
    model.fit(user_items, **fit_kwargs)
    return time.perf_counter() - start


def tune_scoring(
    name: str,
    model: Recommender,
    suggest: Callable,
    data: ColdStartData,
    n_trials: int,
    storage: str | None,
    study_prefix: str,
    k: int = 10,
    seed: int = 42,
    coldstart: bool = False,
    **fit_kwargs,
) -> FamilyResult:
    """Tune scoring-time parameters of ``model`` on validation, refit on train, evaluate.

    ``model`` (unfitted) is fit once on the fit part; each trial only sets parameters
    (``ContentRecommender`` and ``HybridRecommender`` act on theirs at scoring time). The
    objective is validation nDCG@k on all pairs, or on the cold-start pairs (``coldstart``).
    """
    m = data.matrices
    fitted = clone(model).fit(m.fit, **fit_kwargs)
    objective = ScoringObjective(fitted, suggest, validation_score(data, k, coldstart))
    study = _run_study(name, objective, n_trials, storage, study_prefix, seed)
    final = clone(model).set_params(**study.best_params)
    fit_seconds = _refit(final, m.train, **fit_kwargs)
    return _result(name, final, study.best_params, study.best_value, data, k, fit_seconds, n_trials)


class TwoTowerObjective:
    """Optuna objective of the two-tower model: fit on ``fit``, early-stop on ``valid``.

    ``fit_kwargs`` are the features (``item_features``, ``user_features`` of the fit part).
    """

    def __init__(self, base: dict, data: ColdStartData, **fit_kwargs):
        self.base, self.data, self.fit_kwargs = base, data, fit_kwargs

    def __call__(self, trial: optuna.Trial) -> float:
        params = {**self.base, **neural.suggest(trial)}
        model = neural.TwoTowerRecommender(**params)
        m = self.data.matrices
        model.fit(m.fit, valid_user_items=m.valid, **self.fit_kwargs)
        trial.set_user_attr("best_epoch", model.best_epoch_)
        neural.log_training_curves(model.history_)
        return float(max(model.history_[neural.VALIDATION_METRIC]))


def tune_two_tower(
    data: ColdStartData,
    features: np.ndarray,
    base: dict,
    n_trials: int,
    storage: str | None,
    study_prefix: str,
    k: int = 10,
    seed: int = 42,
    user_features: tuple[np.ndarray, np.ndarray] | None = None,
) -> FamilyResult:
    """Tune the two-tower model on validation (or just early-stop ``base`` when no trials).

    The number of epochs is the early-stopping epoch on the validation split; the final
    model trains that many epochs on the whole training part.

    Parameters
    ----------
    features : ndarray of shape (n_items, n_features)
        Item features (``item_features``).
    user_features : (fit, train) pair of ndarray of shape (n_users, n_user_features), optional
        User features computed from the fit part (tuning) and the training part (final).
    """
    m = data.matrices
    base = {**base, "random_state": seed}
    fit_users, train_users = user_features if user_features is not None else (None, None)
    tuning_kwargs = {"item_features": features, "user_features": fit_users}
    if n_trials > 0:
        objective = TwoTowerObjective(base, data, **tuning_kwargs)
        study = _run_study("two_tower", objective, n_trials, storage, study_prefix, seed)
        params = {**base, **study.best_params}
        epochs = int(study.best_trial.user_attrs["best_epoch"])
        valid_score = study.best_value
    else:
        probe = neural.TwoTowerRecommender(**base)
        probe.fit(m.fit, valid_user_items=m.valid, **tuning_kwargs)
        params, epochs = base, probe.best_epoch_
        valid_score = max(probe.history_[neural.VALIDATION_METRIC])
        neural.log_training_curves(probe.history_)
    final = neural.TwoTowerRecommender(**{**params, "max_epochs": epochs})
    final.set_params(validation_fraction=0.0)
    fit_seconds = _refit(final, m.train, item_features=features, user_features=train_users)
    neural.log_training_curves(final.history_, prefix="two_tower.final")
    chosen = {**params, "max_epochs": epochs}
    return _result("two_tower", final, chosen, valid_score, data, k, fit_seconds, n_trials)


def tracked(name: str, run: Callable[..., FamilyResult], *args, **kwargs) -> FamilyResult:
    """``run(*args, **kwargs)`` inside a nested MLflow run named ``name`` (when one is active),
    which records the chosen parameters and the test metrics; trials nest below it."""
    import mlflow

    if mlflow.active_run() is None:
        return run(*args, **kwargs)
    with mlflow.start_run(run_name=name, nested=True):
        mlflow.set_tags({"workbench.family": name, "workbench.stage": "content_based"})
        result = run(*args, **kwargs)
        mlflow.log_params({f"param.{key}": value for key, value in result.params.items()})
        mlflow.log_metrics({**result.metrics, "valid_ndcg_at_10": result.valid_score})
    return result


def add_cold_metrics(results: list[FamilyResult], data: ColdStartData, k: int = 10) -> None:
    """Add the cold-start metrics to results fit on ``train`` elsewhere (the CF families)."""
    for result in results:
        result.metrics.update(evaluate_cold(result.model, data, k))


def split_summary(data: ColdStartData) -> pd.Series:
    """Pairs per part, withheld items and the size of the cold-start test subset."""
    m = data.matrices
    cold_test = restrict_to_items(m.test, data.sparse_test)
    return pd.Series(
        {
            "train pairs": m.train.nnz,
            "test pairs": m.test.nnz,
            "fit pairs": m.fit.nnz,
            "valid pairs": m.valid.nnz,
            "withheld items": int(data.withheld.sum()),
            "cold-start items (< N train pairs)": int(data.sparse_test.sum()),
            "cold-start test pairs": cold_test.nnz,
        }
    )


def similar_items_table(
    model: content.ContentRecommender,
    items: pd.DataFrame,
    item_index: IdMap,
    examples: list[int],
    k: int = 5,
    n_terms: int = 5,
) -> pd.DataFrame:
    """Similar-items lists of ``examples`` (item indices) with titles and matching terms.

    Returns
    -------
    DataFrame with columns item, similar_item, score, matching_terms
    """
    titles = items.set_index(items["item_id"].astype(str))["title"]
    frames = []
    for item_idx in examples:
        table = model.explain_similar(int(item_idx), k=k, n_terms=n_terms)
        frames.append(
            pd.DataFrame(
                {
                    "item": titles.get(item_index.ids[item_idx], item_index.ids[item_idx]),
                    "similar_item": titles.reindex(item_index.to_ids(table["item_idx"])).to_numpy(),
                    "score": table["score"].round(3).to_numpy(),
                    "matching_terms": table["terms"].map(", ".join).to_numpy(),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def example_items(data: ColdStartData, n: int, seed: int = 42) -> list[int]:
    """``n`` item indices to show similar items for: withheld items first, then popular ones."""
    withheld = np.flatnonzero(data.withheld)
    popular = np.argsort(-np.diff(data.matrices.train.tocsc().indptr), kind="stable")
    rng = np.random.default_rng(seed)
    chosen = list(rng.permutation(withheld)[: (n + 1) // 2]) + list(popular[: n // 2])
    return [int(i) for i in chosen[:n]]


def make_hybrid(
    collaborative: FamilyResult, content_result: FamilyResult
) -> hybrid.HybridRecommender:
    """An unfitted hybrid of two tuned results (their hyperparameters, not their fits).

    The content side drops its popularity blend: the collaborative side already carries
    popularity, and a popularity term would bury the cold items the content side is for.
    """
    content_model = clone(content_result.model).set_params(popularity_weight=0.0)
    return hybrid.HybridRecommender(clone(collaborative.model), content_model)


@dataclass(frozen=True)
class Budget:
    """Where and how much to tune: ``n_trials`` per study in ``storage``, named by ``prefix``."""

    n_trials: int
    storage: str | None
    prefix: str
    k: int = 10
    seed: int = 42

    @property
    def args(self) -> tuple:
        return self.n_trials, self.storage, self.prefix, self.k, self.seed


def run_models(
    data: ColdStartData,
    profiles: ItemProfiles,
    dense: np.ndarray,
    best_cf: FamilyResult,
    budget: Budget,
    two_tower: dict,
    two_tower_trials: int = 0,
    user_features: tuple[np.ndarray, np.ndarray] | None = None,
) -> list[FamilyResult]:
    """Content, hybrid (all pairs and cold-start objectives) and two-tower, each tracked.

    Returns
    -------
    list of FamilyResult
        ``content``, ``hybrid``, ``hybrid_coldstart``, ``two_tower``.
    """
    features = {"item_features": profiles}
    content_result = tracked(
        "content", tune_scoring, "content", content.ContentRecommender(), content.suggest,
        data, *budget.args, **features,
    )  # fmt: skip
    results = [content_result]
    for name, coldstart in (("hybrid", False), ("hybrid_coldstart", True)):
        model = make_hybrid(best_cf, content_result)
        results.append(
            tracked(
                name,
                tune_scoring,
                name,
                model,
                hybrid.suggest,
                data,
                *budget.args,
                coldstart=coldstart,
                **features,
            )  # fmt: skip
        )
    _, storage, prefix, k, seed = budget.args
    results.append(
        tracked(
            "two_tower",
            tune_two_tower,
            data,
            dense,
            two_tower,
            two_tower_trials,
            storage,
            prefix,
            k,
            seed,
            user_features=user_features,
        )  # fmt: skip
    )
    return results
