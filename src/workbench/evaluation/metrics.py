"""Ranking and beyond-accuracy metrics, vectorized over all users at once.

Every metric is a pure function of

- ``recommended``: ``ndarray of shape (n_users, k)`` of item indices, best first; ``-1`` marks
  an empty slot (fewer than ``k`` candidates);
- ``relevant``: ``csr_matrix of shape (n_users, n_items)`` whose non-zero entries are the
  held-out items of each user (row ``u`` of ``relevant`` belongs to row ``u`` of
  ``recommended``);
- for the beyond-accuracy metrics, ``train``: the ``csr_matrix of shape (n_users, n_items)``
  the model learned from.

Accuracy metrics average over the users with at least one relevant item, as the Microsoft
Recommenders evaluation does. The formulas are in ``docs/metrics.md``; with ``H_u`` the hits of
user ``u`` in the top ``k`` (rank ``r`` from 1), ``R_u`` the relevant items:

- ``precision@k = |H_u| / k``; ``recall@k = |H_u| / |R_u|``; ``hit_rate@k = [|H_u| > 0]``
- ``ndcg@k = sum_{r in H_u} 1/log2(r+1) / sum_{r=1}^{min(k,|R_u|)} 1/log2(r+1)``
- ``map = sum_{r in H_u} P_u(r) / |R_u|`` (the reference's untruncated denominator), and
  ``map@k`` the same over ``min(k, |R_u|)``, with ``P_u(r)`` the precision at rank ``r``
- ``mrr@k = 1 / (rank of the first hit)``, 0 without a hit
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = [
    "catalog_coverage",
    "hit_rate_at_k",
    "intra_list_diversity",
    "item_similarity",
    "map_at_k",
    "mean_average_precision",
    "mrr_at_k",
    "ndcg_at_k",
    "ndcg_per_user",
    "novelty",
    "precision_at_k",
    "recall_at_k",
    "serendipity",
]


def _check(recommended, relevant) -> tuple[np.ndarray, sp.csr_matrix]:
    recommended = np.asarray(recommended)
    if recommended.ndim != 2:
        raise ValueError(f"recommended must be 2-D (n_users, k), got shape {recommended.shape}")
    if not sp.issparse(relevant):
        raise TypeError("relevant must be a scipy sparse matrix of shape (n_users, n_items)")
    relevant = sp.csr_matrix(relevant)
    if relevant.shape[0] != recommended.shape[0]:
        raise ValueError(
            f"recommended has {recommended.shape[0]} rows but relevant has {relevant.shape[0]}"
        )
    return recommended.astype(np.int64, copy=False), relevant


def _hits(recommended: np.ndarray, relevant: sp.csr_matrix) -> np.ndarray:
    """``bool ndarray of shape (n_users, k)``: whether each recommendation is relevant."""
    n_users, k = recommended.shape
    valid = recommended >= 0
    rows = np.repeat(np.arange(n_users), k)
    cols = np.where(valid, recommended, 0).ravel()
    found = np.asarray(relevant[rows, cols]).reshape(n_users, k) != 0
    return found & valid


def _prepare(recommended, relevant, k: int | None):
    """Hits of the top ``k`` and the relevant counts, for users with relevant items only."""
    recommended, relevant = _check(recommended, relevant)
    k = recommended.shape[1] if k is None else int(k)
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    n_relevant = np.diff(relevant.indptr)
    users = n_relevant > 0
    hits = _hits(recommended[users, :k], relevant[users])
    return hits, n_relevant[users].astype(np.float64), k


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if values.size else 0.0


def precision_at_k(recommended, relevant, k: int | None = None) -> float:
    """Mean share of the top ``k`` that is relevant: ``|H_u| / k``.

    Parameters
    ----------
    recommended : ndarray of shape (n_users, n_recommended)
    relevant : csr_matrix of shape (n_users, n_items)
    k : int, optional
        Cut-off; all columns of ``recommended`` when omitted.

    Returns
    -------
    float
    """
    hits, _, k = _prepare(recommended, relevant, k)
    return _mean(hits.sum(axis=1) / k)


def recall_at_k(recommended, relevant, k: int | None = None) -> float:
    """Mean share of the relevant items found in the top ``k``: ``|H_u| / |R_u|``."""
    hits, n_relevant, _ = _prepare(recommended, relevant, k)
    return _mean(hits.sum(axis=1) / n_relevant)


def hit_rate_at_k(recommended, relevant, k: int | None = None) -> float:
    """Share of users with at least one relevant item in the top ``k``."""
    hits, _, _ = _prepare(recommended, relevant, k)
    return _mean(hits.any(axis=1).astype(np.float64))


def ndcg_per_user(recommended, relevant, k: int | None = None) -> np.ndarray:
    """nDCG@k of each user with at least one relevant item, in row order.

    Returns
    -------
    ndarray of shape (n_users_with_relevant_items,)
    """
    hits, n_relevant, k = _prepare(recommended, relevant, k)
    discount = 1.0 / np.log2(np.arange(2, hits.shape[1] + 2))
    dcg = hits @ discount
    ideal = np.concatenate([[0.0], np.cumsum(1.0 / np.log2(np.arange(2, k + 2)))])
    return dcg / ideal[np.minimum(n_relevant, k).astype(np.int64)]


def ndcg_at_k(recommended, relevant, k: int | None = None) -> float:
    """Mean normalized discounted cumulative gain with binary gains.

    ``DCG_u = sum_r hit_u(r) / log2(r + 1)``, normalized by the ideal DCG of
    ``min(k, |R_u|)`` hits at the top.
    """
    return _mean(ndcg_per_user(recommended, relevant, k))


def _precision_at_hits(hits: np.ndarray) -> np.ndarray:
    """``sum_r hit(r) * P(r)`` per user, with ``P(r)`` the precision at rank ``r``."""
    ranks = np.arange(1, hits.shape[1] + 1)
    return (np.cumsum(hits, axis=1) / ranks * hits).sum(axis=1)


def mean_average_precision(recommended, relevant, k: int | None = None) -> float:
    """MAP as in the reference table: ``sum_{r in H_u} P_u(r) / |R_u|`` (not truncated).

    The hits are those of the top ``k``, but the denominator is the user's full number of
    relevant items, so a user with more than ``k`` relevant items cannot reach 1.
    """
    hits, n_relevant, _ = _prepare(recommended, relevant, k)
    return _mean(_precision_at_hits(hits) / n_relevant)


def map_at_k(recommended, relevant, k: int | None = None) -> float:
    """MAP@k: ``sum_{r in H_u} P_u(r) / min(k, |R_u|)``; a perfect top ``k`` scores 1."""
    hits, n_relevant, k = _prepare(recommended, relevant, k)
    return _mean(_precision_at_hits(hits) / np.minimum(n_relevant, k))


def mrr_at_k(recommended, relevant, k: int | None = None) -> float:
    """Mean reciprocal rank of the first hit in the top ``k`` (0 without a hit)."""
    hits, _, _ = _prepare(recommended, relevant, k)
    first = np.argmax(hits, axis=1) + 1.0
    return _mean(np.where(hits.any(axis=1), 1.0 / first, 0.0))


def catalog_coverage(recommended, n_items: int) -> float:
    """Share of the catalogue recommended to at least one user: ``|U_u L_u| / n_items``."""
    recommended = np.asarray(recommended)
    shown = np.unique(recommended[recommended >= 0])
    return float(len(shown) / n_items) if n_items else 0.0


def novelty(recommended, train) -> float:
    """Mean self-information of the recommended items: ``-log2(n_i / N)``.

    ``n_i`` is the number of training interactions of item ``i`` (at least 1) and ``N`` the
    total number of training interactions; averaged over every recommendation shown.

    Parameters
    ----------
    recommended : ndarray of shape (n_users, k)
    train : csr_matrix of shape (n_users_train, n_items)
    """
    recommended = np.asarray(recommended)
    train = sp.csr_matrix(train)
    counts = np.maximum(np.diff(train.tocsc().indptr), 1).astype(np.float64)
    shown = recommended[recommended >= 0]
    if not shown.size:
        return 0.0
    return float(np.mean(-np.log2(counts[shown] / max(train.nnz, 1))))


def item_similarity(train, items) -> np.ndarray:
    """Cosine similarity of the training columns of ``items`` with each other.

    Parameters
    ----------
    train : csr_matrix of shape (n_users, n_items)
    items : ndarray of shape (n_selected,)

    Returns
    -------
    ndarray of shape (n_selected, n_selected)
    """
    columns = _unit_columns(train)[:, np.asarray(items)]
    return (columns.T @ columns).toarray()


def _unit_columns(train) -> sp.csc_matrix:
    """Binarized ``train`` with each column scaled to unit norm."""
    binary = sp.csc_matrix(train, dtype=np.float64, copy=True)
    binary.data[:] = 1.0
    norms = np.sqrt(np.diff(binary.indptr)).astype(np.float64)
    return (binary @ sp.diags(1.0 / np.maximum(norms, 1.0))).tocsc()


def intra_list_diversity(recommended, train, block_size: int = 2048) -> float:
    """Mean over users of ``1 - mean cosine similarity`` of the pairs in their list.

    Similarity is the cosine of the items' binarized training columns (co-occurrence),
    computed among the recommended items only, ``block_size`` columns at a time (memory
    ``n_shown x block_size``). Lists with fewer than two items are skipped.

    Parameters
    ----------
    recommended : ndarray of shape (n_users, k)
    train : csr_matrix of shape (n_users_train, n_items)
    block_size : int
    """
    recommended = np.asarray(recommended)
    shown, position = np.unique(np.maximum(recommended, 0), return_inverse=True)
    position = position.reshape(recommended.shape)
    columns = _unit_columns(train)[:, shown]
    first, second = np.triu_indices(recommended.shape[1], k=1)
    left, right = position[:, first], position[:, second]
    pairs = np.zeros(left.shape)
    for start in range(0, len(shown), block_size):
        block = (right >= start) & (right < start + block_size)
        similarity = (columns.T @ columns[:, start : start + block_size]).toarray()
        pairs[block] = similarity[left[block], right[block] - start]
    valid = (recommended[:, first] >= 0) & (recommended[:, second] >= 0)
    n_pairs = valid.sum(axis=1)
    keep = n_pairs > 0
    mean_similarity = (pairs * valid).sum(axis=1)[keep] / n_pairs[keep]
    return _mean(1.0 - mean_similarity)


def _history_sums(
    history: sp.csr_matrix, users: np.ndarray, to_hits: np.ndarray, columns: np.ndarray
) -> np.ndarray:
    """``sum_{j in T_u} to_hits[j, c]`` for each pair ``(users[p], columns[p])``.

    Parameters
    ----------
    history : csr_matrix of shape (n_users, n_items)
        Binary; row ``u`` holds ``T_u``.
    users, columns : ndarray of shape (n_pairs,)
    to_hits : ndarray of shape (n_items, n_columns)
    """
    starts, stops = history.indptr[users], history.indptr[users + 1]
    lengths = stops - starts
    owner = np.repeat(np.arange(len(users)), lengths)
    offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    items = history.indices[np.repeat(starts, lengths) + offsets]
    values = to_hits[items, columns[owner]]
    return np.bincount(owner, values, minlength=len(users))


def serendipity(recommended, relevant, train, chunk_size: int = 1024) -> float:
    """Mean over users of ``mean_i rel_u(i) * (1 - mean_{j in T_u} sim(i, j))``.

    A recommendation is serendipitous when it is relevant (held out) and unlike the user's
    training items ``T_u``; similarity as in ``intra_list_diversity``. Users are those with
    relevant items; ``train`` rows align with ``recommended`` rows. Only the hits need a
    similarity (the other terms are zero), so the work grows with the hit items' training
    co-occurrences, not with users x recommended items.

    Parameters
    ----------
    recommended : ndarray of shape (n_users, k)
    relevant : csr_matrix of shape (n_users, n_items)
    train : csr_matrix of shape (n_users, n_items)
    chunk_size : int
        Hit items per block, bounding memory to a dense ``n_items x chunk_size``.
    """
    recommended, relevant = _check(recommended, relevant)
    users = np.diff(relevant.indptr) > 0
    recommended, relevant = recommended[users], relevant[users]
    hits = _hits(recommended, relevant)
    history = sp.csr_matrix(train, dtype=np.float64)[users]
    history.sum_duplicates()
    history.data[:] = 1.0
    n_history = np.maximum(np.diff(history.indptr), 1)
    n_shown = np.maximum((recommended >= 0).sum(axis=1), 1)
    hit_user, hit_slot = np.nonzero(hits)
    hit_items, position = np.unique(recommended[hit_user, hit_slot], return_inverse=True)
    unit = _unit_columns(train)
    similarity_sum = np.empty(len(hit_user))
    for start in range(0, len(hit_items), chunk_size):
        in_block = np.flatnonzero((position >= start) & (position < start + chunk_size))
        to_hits = (unit.T @ unit[:, hit_items[start : start + chunk_size]]).toarray()
        similarity_sum[in_block] = _history_sums(history, hit_user[in_block], to_hits,
                                                 position[in_block] - start)  # fmt: skip
    unexpected = 1.0 - similarity_sum / n_history[hit_user]
    values = np.bincount(hit_user, unexpected, minlength=len(recommended)) / n_shown
    return _mean(values)
