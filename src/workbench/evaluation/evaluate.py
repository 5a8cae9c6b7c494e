"""Evaluate a fitted recommender on a held-out matrix: every metric in one dict.

``evaluate_cold`` adds the cold-start view (test pairs of items with few training pairs),
``evaluate_cold_only`` the cold-only protocol (withheld items ranked among the withheld items
only) and ``validation_score`` scores a model on a validation split while tuning.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

from workbench.data.coldstart import ColdStartData, restrict_to_items
from workbench.evaluation import metrics
from workbench.models.base import Recommender, top_k

#: Metrics reported overall and on the cold-start subset by ``evaluate_cold``.
COLD_REPORTED = ("precision", "recall", "ndcg", "hit_rate")

ACCURACY = {
    "precision": metrics.precision_at_k,
    "recall": metrics.recall_at_k,
    "ndcg": metrics.ndcg_at_k,
    "map": metrics.map_at_k,
    "hit_rate": metrics.hit_rate_at_k,
    "mrr": metrics.mrr_at_k,
}


def recommend_all(model, train_user_items: sp.csr_matrix, k: int, batch_size: int = 2048):
    """Top-``k`` item indices of every training user, seen items filtered.

    Returns
    -------
    ndarray of shape (n_users, k)
        ``-1`` where fewer than ``k`` unseen items have a finite score.
    """
    blocks = []
    for start in range(0, train_user_items.shape[0], batch_size):
        users = np.arange(start, min(start + batch_size, train_user_items.shape[0]))
        items, scores = model.recommend(users, train_user_items, k=k, filter_seen=True)
        blocks.append(np.where(np.isfinite(scores), items, -1))
    return np.vstack(blocks)


def ranking_metrics(
    recommended: np.ndarray, test_user_items: sp.csr_matrix, train_user_items: sp.csr_matrix
) -> dict[str, float]:
    """Every accuracy and beyond-accuracy metric of ``recommended``.

    Parameters
    ----------
    recommended : ndarray of shape (n_users, k)
    test_user_items : csr_matrix of shape (n_users, n_items)
    train_user_items : csr_matrix of shape (n_users, n_items)

    Returns
    -------
    dict
        ``precision_at_<k>``, ``recall_at_<k>``, ``ndcg_at_<k>``, ``map`` (the reference's),
        ``map_at_<k>``, ``hit_rate_at_<k>``, ``mrr_at_<k>``, ``coverage_at_<k>``,
        ``novelty_at_<k>``, ``diversity_at_<k>``, ``serendipity_at_<k>``.
    """
    k = recommended.shape[1]
    result = {f"{name}_at_{k}": fn(recommended, test_user_items) for name, fn in ACCURACY.items()}
    result["map"] = metrics.mean_average_precision(recommended, test_user_items)
    result[f"coverage_at_{k}"] = metrics.catalog_coverage(recommended, test_user_items.shape[1])
    result[f"novelty_at_{k}"] = metrics.novelty(recommended, train_user_items)
    result[f"diversity_at_{k}"] = metrics.intra_list_diversity(recommended, train_user_items)
    result[f"serendipity_at_{k}"] = metrics.serendipity(
        recommended, test_user_items, train_user_items
    )
    return result


def evaluate(
    model, train_user_items: sp.csr_matrix, test_user_items: sp.csr_matrix, k: int = 10
) -> dict[str, float]:
    """Recommend ``k`` unseen items to every user and score them against the test matrix.

    Parameters
    ----------
    model : Recommender
        Fitted on ``train_user_items``.
    train_user_items, test_user_items : csr_matrix of shape (n_users, n_items)
        Same user and item indices.
    k : int

    Returns
    -------
    dict
        ``ranking_metrics`` plus ``eval_seconds`` (recommending and scoring).
    """
    if train_user_items.shape != test_user_items.shape:
        raise ValueError(
            f"train {train_user_items.shape} and test {test_user_items.shape} shapes differ"
        )
    start = time.perf_counter()
    recommended = recommend_all(model, train_user_items, k)
    result = ranking_metrics(recommended, test_user_items, train_user_items)
    result["eval_seconds"] = time.perf_counter() - start
    return result


def evaluate_cold(model: Recommender, data: ColdStartData, k: int = 10) -> dict[str, float]:
    """Test metrics of a model fit on ``train``: all pairs, and the cold-start subset."""
    m = data.matrices
    recommended = recommend_all(model, m.train, k)  # once, for both test sets
    cold_test = restrict_to_items(m.test, data.sparse_test)
    result = {}
    for name in COLD_REPORTED:
        score = getattr(metrics, f"{name}_at_k")
        result[f"{name}_at_{k}"] = score(recommended, m.test, k)
        result[f"coldstart_{name}_at_{k}"] = score(recommended, cold_test, k)
    result["map"] = metrics.mean_average_precision(recommended, m.test)
    result["coldstart_users"] = float(np.count_nonzero(np.diff(cold_test.indptr)))
    return result


def recommend_among(
    model,
    users: np.ndarray,
    train_user_items: sp.csr_matrix,
    candidates: np.ndarray,
    k: int,
    batch_size: int = 2048,
) -> np.ndarray:
    """Top-``k`` of the ``candidates`` items only, for ``users``, seen items filtered.

    Parameters
    ----------
    users : ndarray of int of shape (n_requested,)
    train_user_items : csr_matrix of shape (n_users, n_items)
    candidates : ndarray of bool of shape (n_items,)
        No other item is ever recommended.

    Returns
    -------
    ndarray of shape (n_requested, k)
        ``-1`` where fewer than ``k`` unseen candidates have a finite score.
    """
    candidates = np.asarray(candidates, dtype=bool)
    blocks = [np.empty((0, k), dtype=np.int64)]
    for start in range(0, len(users), batch_size):
        block = users[start : start + batch_size]
        scores = model.score(block, train_user_items)
        scores[:, ~candidates] = -np.inf
        seen = train_user_items[block]
        scores[np.repeat(np.arange(len(block)), np.diff(seen.indptr)), seen.indices] = -np.inf
        items, top = top_k(scores, k)
        blocks.append(np.where(np.isfinite(top), items, -1))
    return np.vstack(blocks)


def evaluate_cold_only(
    model: Recommender, data: ColdStartData, k: int = 10
) -> tuple[dict[str, float], np.ndarray]:
    """The cold-only protocol: each user's withheld test items ranked among withheld items only.

    Only users with a test pair on a withheld item count; warm items are never candidates,
    so the score measures how well a model orders items nobody has rated, free of the
    competition with popular warm items that the full-catalogue protocol adds.

    Returns
    -------
    metrics : dict
        ``cold_only_ndcg_at_<k>``, ``cold_only_recall_at_<k>``, ``cold_only_users``,
        ``cold_only_items`` (the candidates).
    per_user_ndcg : ndarray of shape (n_cold_users,)
        In user-row order, the same users for every model (for a paired bootstrap).
    """
    m = data.matrices
    test = restrict_to_items(m.test, data.withheld)
    users = np.flatnonzero(np.diff(test.indptr))
    recommended = recommend_among(model, users, m.train, data.withheld, k)
    relevant = test[users]
    per_user = metrics.ndcg_per_user(recommended, relevant, k)
    result = {
        f"cold_only_ndcg_at_{k}": float(per_user.mean()) if per_user.size else 0.0,
        f"cold_only_recall_at_{k}": metrics.recall_at_k(recommended, relevant, k),
        "cold_only_users": float(len(users)),
        "cold_only_items": float(np.count_nonzero(data.withheld)),
    }
    return result, per_user


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
