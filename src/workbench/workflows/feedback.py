"""The feedback loop of ``notebooks/40_collaborative.ipynb``: the champion updated, not refit cold.

With ``warm_start`` (``workbench run CONFIG --incremental``), the notebook loads the registered
champion recommender (its model, training matrix and id maps) and :func:`warm_start` carries it
onto the new training matrix (:func:`workbench.models.incremental.warm_update`: ``implicit``'s
partial fits for ALS, a full refit for EASE and the others), then evaluates it once on the new
test split, beside the champion's own score on the same test users before the update. What
changed (users and items added, pairs appended, rows recomputed) is logged and recorded as the
nested run's parameters; the updated model then goes through the same gate as a cold fit.
"""

from __future__ import annotations

import copy
import logging

import mlflow
import numpy as np

from workbench.data.splits import SplitMatrices
from workbench.evaluation import evaluate
from workbench.models import incremental
from workbench.publish import RecommenderService
from workbench.workflows.results import FamilyResult, ranking_scorer, tracked

log = logging.getLogger(__name__)


def load_champion(name: str):
    """The ``champion`` of registered model ``name`` as its Python model, or None (logged).

    Returns
    -------
    RecommenderService, ConversionModel or None
        What ``name``'s pyfunc wraps; None when ``name`` has no champion yet.
    """
    try:
        loaded = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    except mlflow.exceptions.MlflowException:
        log.info("%s has no champion: nothing to warm-start from", name)
        return None
    return loaded.unwrap_python_model()


def updatable_champion(name: str) -> RecommenderService | None:
    """The champion recommender ``name`` when a warm update applies to it, else None (logged).

    A champion that needs item features (content, hybrid, two-tower: promoted by
    ``70_compare_register``) is not updated from interactions alone: the notebook tunes anew.
    """
    champion = load_champion(name)
    if champion is not None and getattr(champion.model, "needs_item_features", False):
        log.warning(
            "%s's champion (%s) needs item features: tuning anew instead of a warm start",
            name, type(champion.model).__name__,
        )  # fmt: skip
        return None
    return champion


def served_ndcg(service: RecommenderService, matrices: SplitMatrices, k: int = 10) -> float:
    """Mean test nDCG@k of a served recommender on ``matrices``' test users (its own ids)."""
    scores = ranking_scorer(matrices, k)(lambda request: service.predict(None, request))
    return float(np.mean(scores))


def warm_start(previous: RecommenderService, matrices: SplitMatrices, k: int = 10) -> FamilyResult:
    """The champion's model updated on ``matrices.train`` and scored once on its test split.

    Parameters
    ----------
    previous : RecommenderService
        The champion as registered; it is not modified (its model is copied).
    matrices : SplitMatrices
        The new data's split; ids are matched by name to the champion's.
    k : int

    Returns
    -------
    FamilyResult
        Named ``<estimator>_warm``; ``params`` say what changed (:class:`incremental.Update`),
        ``metrics`` hold the test figures, ``fit_seconds`` (the update's time) and
        ``ndcg_at_<k>_before_update`` (the champion as served, same test users).
    """
    before = served_ndcg(previous, matrices, k)
    model = copy.deepcopy(previous.model)
    update = incremental.warm_update(
        model, previous.user_items, previous.users, previous.items,
        matrices.train, matrices.users, matrices.items,
    )  # fmt: skip
    scores = evaluate(model, matrices.train, matrices.test, k=k)
    metrics = {**scores, "fit_seconds": update.seconds, f"ndcg_at_{k}_before_update": before}
    log.info(
        "warm start (%s): %s; test ndcg@%d %.4f before the update, %.4f after",
        type(model).__name__, update.as_dict(), k, before, scores[f"ndcg_at_{k}"],
    )  # fmt: skip
    name = f"{type(model).__name__.lower()}_warm"
    return FamilyResult(name, model, update.as_dict(), float("nan"), metrics, 0, k)


def warm_start_results(
    previous: RecommenderService, matrices: SplitMatrices, k: int = 10
) -> list[FamilyResult]:
    """:func:`warm_start` in its own nested MLflow run ``warm_start`` (a one-row comparison)."""
    return [tracked("warm_start", "collaborative", lambda: warm_start(previous, matrices, k))]
