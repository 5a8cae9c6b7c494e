"""The content-based experiment: content, hybrid and two-tower models on a cold-start split.

Shared by ``notebooks/30_content_based.ipynb`` and ``benchmarks/content.py``. The data come
split already (:func:`workbench.data.coldstart.prepare_cold_start`), with item profiles
(:func:`workbench.features.text.item_representations`):

1. :func:`tune_scoring`: a content or hybrid model is fit once on the fit part and its
   scoring-time parameters tuned on validation (:class:`ScoringObjective`), then refit on the
   whole training part;
2. :func:`tune_two_tower`: the two-tower model early-stopped on validation, then trained that
   many epochs on the training part;
3. :func:`run_models`: all of them, each in its own nested run, evaluated overall and on the
   cold-start subset (``coldstart_*``, the test pairs of items with fewer than ``N`` training
   interactions, which includes every withheld item);
4. :func:`cold_only_table`: the cold-only protocol (withheld items ranked among the withheld
   items only) for every model beside the genre-popularity baseline, with paired bootstrap
   intervals over users of each model's nDCG difference to it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import mlflow
import numpy as np
import optuna
import pandas as pd
import scipy.sparse as sp
from sklearn.base import clone

from workbench import tuning
from workbench.data.coldstart import ColdStartData
from workbench.evaluation import evaluate_cold, evaluate_cold_only, validation_score
from workbench.evaluation.compare import paired_bootstrap
from workbench.evaluation.early_stopping import EarlyStopping
from workbench.features.context import user_context_features
from workbench.features.text import ItemProfiles, category_indicators, item_representations
from workbench.models import content, hybrid, neural
from workbench.models.base import Recommender
from workbench.models.popularity import GenrePopularity
from workbench.workflows.results import FamilyResult, tracked

log = logging.getLogger(__name__)

STAGE = "content_based"


@dataclass(frozen=True)
class ContentInputs:
    """Everything the content models learn from, beside the interactions.

    Attributes
    ----------
    data : ColdStartData
    profiles : ItemProfiles of shape (n_items, n_terms)
        TF-IDF profiles (content model, explanations).
    dense : ndarray of shape (n_items, n_dense)
        TF-IDF SVD vectors next to category indicators (two-tower item tower).
    user_features : (ndarray, ndarray), each of shape (n_users, n_user_features)
        Context habits computed from the fit part (tuning) and the training part (final).
    categories : ndarray of shape (n_items, n_categories)
        Genre indicators (the genre-popularity baseline).
    """

    data: ColdStartData
    profiles: ItemProfiles
    dense: np.ndarray
    user_features: tuple[np.ndarray, np.ndarray]
    categories: np.ndarray | None = None


def content_inputs(
    events: pd.DataFrame,
    items: pd.DataFrame,
    data: ColdStartData,
    n_components: int = 32,
    seed: int = 42,
) -> ContentInputs:
    """Item profiles and dense representations, and user context features of ``data``."""
    m = data.matrices
    profiles, dense = item_representations(items, m.items, n_components, seed)
    users = tuple(
        user_context_features(events, getattr(m, part), m.users, m.items)
        for part in ("fit", "train")
    )
    return ContentInputs(data, profiles, dense, users, category_indicators(items, m.items))


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


def _result(name, model, outcome, params, data, budget, fit_seconds) -> FamilyResult:
    scores = {**evaluate_cold(model, data, budget.k), "fit_seconds": fit_seconds}
    valid_score, n_trials = outcome
    log.info("%s: valid ndcg@%d %.4f, test %s", name, budget.k, valid_score, scores)
    return FamilyResult(name, model, dict(params), float(valid_score), scores, n_trials, budget.k)


def _refit(model: Recommender, user_items: sp.csr_matrix, **side_data) -> float:
    start = time.perf_counter()
    model.fit(user_items, **side_data)
    return time.perf_counter() - start


def tune_scoring(
    name: str,
    model: Recommender,
    data: ColdStartData,
    budget: tuning.Budget,
    item_features,
    coldstart: bool = False,
) -> FamilyResult:
    """Tune scoring-time parameters of ``model`` on validation, refit on train, evaluate.

    ``model`` (unfitted, a content or hybrid model) is fit once on the fit part; each trial
    only sets parameters drawn by its family's ``suggest``. The objective is validation
    nDCG@k on all pairs, or on the cold-start pairs (``coldstart``).
    """
    m = data.matrices
    suggest = hybrid.suggest if isinstance(model, hybrid.HybridRecommender) else content.suggest
    fitted = clone(model).fit(m.fit, item_features=item_features)
    objective = ScoringObjective(fitted, suggest, validation_score(data, budget.k, coldstart))
    identity = {"model": repr(model), "coldstart": coldstart}
    study = tuning.run_study(name, objective, budget, f"valid_ndcg_at_{budget.k}", **identity)
    final = clone(model).set_params(**study.best_params)
    fit_seconds = _refit(final, m.train, item_features=item_features)
    outcome = (study.best_value, len(study.trials))
    return _result(name, final, outcome, study.best_params, data, budget, fit_seconds)


def add_cold_metrics(results: list[FamilyResult], data: ColdStartData, k: int = 10) -> None:
    """Add the cold-start metrics to results fit on ``train`` elsewhere (the CF families)."""
    for result in results:
        result.metrics.update(evaluate_cold(result.model, data, k))


def make_hybrid(
    collaborative: FamilyResult, content_result: FamilyResult
) -> hybrid.HybridRecommender:
    """An unfitted hybrid of two tuned results (their hyperparameters, not their fits).

    The content side drops its popularity blend: the collaborative side already carries
    popularity, and a popularity term would bury the cold items the content side is for.
    """
    content_model = clone(content_result.model).set_params(popularity_weight=0.0)
    return hybrid.HybridRecommender(clone(collaborative.model), content_model)


def log_training_curves(
    model: neural.TwoTowerRecommender, early_stopping=None, prefix: str = "two_tower"
) -> None:
    """Log per-epoch curves of a two-tower fit to the active MLflow run, step = epoch from 0.

    ``<prefix>.loss`` is the model's training loss; with ``early_stopping`` (the
    ``EarlyStopping`` callback of the fit), ``<prefix>.val_ndcg_at_<k>`` is the validation
    nDCG it recorded. Nothing is logged without an active run.
    """
    if mlflow.active_run() is None:
        return
    curves = {"loss": model.history_["loss"]}
    if early_stopping is not None:
        curves[f"val_ndcg_at_{early_stopping.k}"] = early_stopping.history
    for name, values in curves.items():
        for epoch, value in enumerate(values):
            mlflow.log_metric(f"{prefix}.{name}", float(value), step=epoch)


def _early_stopped(params: dict, data: ColdStartData, k: int, **fit_kwargs):
    """The ``EarlyStopping`` record of a two-tower model with ``params`` fit on the fit part,
    stopped on validation nDCG@k; its curves are logged."""
    m = data.matrices
    stopping = EarlyStopping(m.fit, m.valid, k=k)
    model = neural.TwoTowerRecommender(**params).fit(m.fit, callback=stopping, **fit_kwargs)
    log_training_curves(model, stopping)
    return stopping


class TwoTowerObjective:
    """Optuna objective of the two-tower model: fit on ``fit``, early-stop on ``valid``.

    A trial's value is its best validation nDCG@k over the epochs trained; its ``best_epoch``
    user attribute is the number of epochs that reached it. ``fit_kwargs`` are the features
    (``item_features``, ``user_features`` of the fit part).
    """

    def __init__(self, base: dict, data: ColdStartData, k: int = 10, **fit_kwargs):
        self.base, self.data, self.k, self.fit_kwargs = base, data, k, fit_kwargs

    def __call__(self, trial: optuna.Trial) -> float:
        params = {**self.base, **neural.suggest(trial)}
        stopping = _early_stopped(params, self.data, self.k, **self.fit_kwargs)
        trial.set_user_attr("best_epoch", stopping.best_epoch)
        return float(stopping.best_score)


def tune_two_tower(
    inputs: ContentInputs, base: dict, budget: tuning.Budget, n_trials: int = 0
) -> FamilyResult:
    """Tune the two-tower model on validation (or just early-stop ``base`` when no trials).

    Every candidate trains on the fit part with ``EarlyStopping`` on validation nDCG@k; the
    number of epochs is that of its best validation score, and the final model trains that
    many epochs on the whole training part, without validation.

    Parameters
    ----------
    inputs : ContentInputs
        Dense item features and the user features of the fit and training parts.
    base : dict
        Fixed settings (``max_epochs``, ``negatives``).
    budget : Budget
    n_trials : int
        Trials of the two-tower study (its own budget: each one trains a network).

    Returns
    -------
    FamilyResult
        ``valid_score`` is the best validation nDCG@k.
    """
    data, m = inputs.data, inputs.data.matrices
    base = {**base, "random_state": budget.seed}
    fit_users, train_users = inputs.user_features
    tuning_kwargs = {"item_features": inputs.dense, "user_features": fit_users}
    if n_trials > 0:
        objective = TwoTowerObjective(base, data, budget.k, **tuning_kwargs)
        metric = f"valid_ndcg_at_{budget.k}"
        study = tuning.run_study("two_tower", objective, budget, metric, n_trials=n_trials, **base)
        params = {**base, **study.best_params}
        epochs = int(study.best_trial.user_attrs["best_epoch"])
        outcome = (study.best_value, len(study.trials))
    else:
        stopping = _early_stopped(base, data, budget.k, **tuning_kwargs)
        params, epochs, outcome = base, stopping.best_epoch, (stopping.best_score, 0)
    final = neural.TwoTowerRecommender(**{**params, "max_epochs": epochs})
    fit_seconds = _refit(final, m.train, item_features=inputs.dense, user_features=train_users)
    log_training_curves(final, prefix="two_tower.final")
    chosen = {**params, "max_epochs": epochs}
    return _result("two_tower", final, outcome, chosen, data, budget, fit_seconds)


def run_models(
    inputs: ContentInputs,
    best_cf: FamilyResult,
    budget: tuning.Budget,
    two_tower: dict,
    two_tower_trials: int = 0,
) -> list[FamilyResult]:
    """Content, hybrid (all pairs and cold-start objectives) and two-tower, each tracked.

    Returns
    -------
    list of FamilyResult
        ``content``, ``hybrid``, ``hybrid_coldstart``, ``two_tower``.
    """
    data, profiles = inputs.data, inputs.profiles

    def scoring(name: str, model: Recommender, coldstart: bool = False) -> FamilyResult:
        run = lambda: tune_scoring(name, model, data, budget, profiles, coldstart)  # noqa: E731
        return tracked(name, STAGE, run)

    content_result = scoring("content", content.ContentRecommender())
    hybrids = [
        scoring(name, make_hybrid(best_cf, content_result), coldstart)
        for name, coldstart in (("hybrid", False), ("hybrid_coldstart", True))
    ]
    two_tower_result = tracked(
        "two_tower", STAGE, lambda: tune_two_tower(inputs, two_tower, budget, two_tower_trials)
    )
    return [content_result, *hybrids, two_tower_result]


BASELINE = "genre_popularity"


def genre_popularity(inputs: ContentInputs, k: int = 10) -> FamilyResult:
    """The genre-popularity baseline fit on the training part, evaluated like the others."""
    if inputs.categories is None:
        raise ValueError("inputs.categories is None: build inputs with content_inputs")
    model = GenrePopularity()
    fit_seconds = _refit(model, inputs.data.matrices.train, item_features=inputs.categories)
    scores = {**evaluate_cold(model, inputs.data, k), "fit_seconds": fit_seconds}
    return FamilyResult(BASELINE, model, {}, float("nan"), scores, 0, k)


def cold_only_table(
    results: list[FamilyResult],
    data: ColdStartData,
    k: int = 10,
    n_bootstrap: int = 1000,
    seed: int = 42,
    baseline: str = BASELINE,
) -> pd.DataFrame:
    """The cold-only protocol for every result, each against the ``baseline`` result.

    Each model's per-user nDCG@k on the withheld items is paired with the baseline's over
    the same users and resampled (``paired_bootstrap``, users with replacement).

    Returns
    -------
    DataFrame indexed by result name
        ``cold_only_ndcg_at_<k>``, ``cold_only_recall_at_<k>``, ``vs_<baseline>`` (mean
        per-user nDCG difference) and its 95% interval ``ci_low`` / ``ci_high``;
        ``table.attrs`` holds ``cold_only_users`` and ``cold_only_items``.
    """
    evaluated = {r.name: evaluate_cold_only(r.model, data, k) for r in results}
    if baseline not in evaluated:
        raise ValueError(f"baseline {baseline!r} is not among the results {list(evaluated)}")
    base_users = evaluated[baseline][1]
    rows = {}
    for name, (scores, per_user) in evaluated.items():
        diff = paired_bootstrap(per_user, base_users, n_bootstrap, random_state=seed)
        rows[name] = {
            f"cold_only_ndcg_at_{k}": scores[f"cold_only_ndcg_at_{k}"],
            f"cold_only_recall_at_{k}": scores[f"cold_only_recall_at_{k}"],
            f"vs_{baseline}": diff.difference,
            "ci_low": diff.lower,
            "ci_high": diff.upper,
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.attrs.update({key: scores[key] for key in ("cold_only_users", "cold_only_items")})
    return table
