"""Metrics on hand-computed cases and at their limits."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from workbench.evaluation import metrics as m


def relevant_matrix(rows: list[list[int]], n_items: int = 10) -> sp.csr_matrix:
    indptr = np.cumsum([0] + [len(r) for r in rows])
    data = np.ones(indptr[-1])
    return sp.csr_matrix((data, np.concatenate(rows).astype(int), indptr), (len(rows), n_items))


# user 0: relevant {1, 3, 5}; recommended [1, 2, 3, 4] -> hits at ranks 1 and 3
# user 1: relevant {9};       recommended [0, 9, 8, 7] -> hit at rank 2
RECOMMENDED = np.array([[1, 2, 3, 4], [0, 9, 8, 7]])
RELEVANT = relevant_matrix([[1, 3, 5], [9]])


def test_precision_recall_hit_rate_by_hand():
    assert m.precision_at_k(RECOMMENDED, RELEVANT) == pytest.approx((2 / 4 + 1 / 4) / 2)
    assert m.recall_at_k(RECOMMENDED, RELEVANT) == pytest.approx((2 / 3 + 1) / 2)
    assert m.hit_rate_at_k(RECOMMENDED, RELEVANT, k=1) == pytest.approx(0.5)
    assert m.precision_at_k(RECOMMENDED, RELEVANT, k=2) == pytest.approx((1 / 2 + 1 / 2) / 2)


def test_ndcg_by_hand():
    user0 = (1 + 1 / np.log2(4)) / (1 + 1 / np.log2(3) + 1 / np.log2(4))
    user1 = (1 / np.log2(3)) / 1.0
    assert m.ndcg_at_k(RECOMMENDED, RELEVANT) == pytest.approx((user0 + user1) / 2)


def test_map_untruncated_and_at_k_by_hand():
    # precision at the hits: user 0 -> 1/1 and 2/3; user 1 -> 1/2
    assert m.mean_average_precision(RECOMMENDED, RELEVANT) == pytest.approx(
        ((1 + 2 / 3) / 3 + (1 / 2) / 1) / 2
    )
    # with k = 2 user 0 has 3 relevant: reference map divides by 3, map@2 by min(2, 3)
    assert m.mean_average_precision(RECOMMENDED, RELEVANT, k=2) == pytest.approx(
        (1 / 3 + 1 / 2) / 2
    )
    assert m.map_at_k(RECOMMENDED, RELEVANT, k=2) == pytest.approx((1 / 2 + 1 / 2) / 2)


def test_mrr_by_hand():
    assert m.mrr_at_k(RECOMMENDED, RELEVANT) == pytest.approx((1 + 1 / 2) / 2)


def test_a_perfect_ranking_scores_one():
    relevant = relevant_matrix([[0, 1], [2, 3, 4]])
    recommended = np.array([[1, 0, 7], [4, 2, 3]])
    for metric in (
        m.ndcg_at_k,
        m.map_at_k,
        m.mean_average_precision,
        m.mrr_at_k,
        m.hit_rate_at_k,
        m.recall_at_k,
    ):
        assert metric(recommended, relevant) == pytest.approx(1.0), metric.__name__
    assert m.precision_at_k(recommended[1:], relevant[1:]) == pytest.approx(1.0)


def test_a_disjoint_ranking_scores_zero():
    recommended = np.array([[6, 7, 8], [6, 7, 8]])
    for metric in (
        m.precision_at_k,
        m.recall_at_k,
        m.ndcg_at_k,
        m.map_at_k,
        m.mean_average_precision,
        m.mrr_at_k,
        m.hit_rate_at_k,
    ):
        assert metric(recommended, RELEVANT) == 0.0, metric.__name__


def test_users_without_relevant_items_are_left_out():
    relevant = relevant_matrix([[1], []])
    recommended = np.array([[1, 2], [3, 4]])
    assert m.precision_at_k(recommended, relevant) == pytest.approx(0.5)


def test_empty_slots_never_count():
    recommended = np.array([[1, -1, -1]])
    relevant = relevant_matrix([[1, 0]])
    assert m.precision_at_k(recommended, relevant) == pytest.approx(1 / 3)
    assert m.catalog_coverage(recommended, 10) == pytest.approx(0.1)


def test_coverage_and_novelty_by_hand():
    train = relevant_matrix([[0, 1], [0, 2], [0, 3], [1]], n_items=4)  # counts 3, 2, 1, 1
    recommended = np.array([[0, 1], [2, 3]])
    assert m.catalog_coverage(recommended, 4) == 1.0
    expected = np.mean(-np.log2(np.array([3, 2, 1, 1]) / 7))
    assert m.novelty(recommended, train) == pytest.approx(expected)


def test_diversity_is_zero_for_identical_items_and_one_for_disjoint():
    train = relevant_matrix([[0, 1], [0, 1], [2], [3]], n_items=4)
    assert m.intra_list_diversity(np.array([[0, 1]]), train) == pytest.approx(0.0)
    assert m.intra_list_diversity(np.array([[2, 3]]), train) == pytest.approx(1.0)


def test_serendipity_rewards_relevant_items_unlike_the_history():
    train = relevant_matrix([[0], [0, 1], [2], [3]], n_items=4)
    relevant = relevant_matrix([[2], [], [], []], n_items=4)
    # user 0 saw item 0; item 2 never co-occurs with it (sim 0) and is relevant -> 1 * 1
    # item 1 co-occurs (sim 1/sqrt(2)) but is not relevant -> 0; mean over the list of two
    assert m.serendipity(np.array([[2, 1], [1, 2], [0, 1], [0, 1]]), relevant, train) == (
        pytest.approx(0.5)
    )


def _cosine(train: sp.csr_matrix) -> np.ndarray:
    binary = (train.toarray() != 0).astype(float)
    norms = np.maximum(np.sqrt(binary.sum(axis=0)), 1.0)
    return (binary.T @ binary) / np.outer(norms, norms)


def _diversity_by_definition(recommended, train) -> float:
    sim, values = _cosine(train), []
    for row in recommended:
        shown = row[row >= 0]
        pairs = [(a, b) for n, a in enumerate(shown) for b in shown[n + 1 :]]
        if pairs:
            values.append(1.0 - np.mean([sim[a, b] for a, b in pairs]))
    return float(np.mean(values))


def _serendipity_by_definition(recommended, relevant, train) -> float:
    sim, values = _cosine(train), []
    history, held_out = train.toarray() != 0, relevant.toarray() != 0
    for user, row in enumerate(recommended):
        if not held_out[user].any():
            continue
        seen = np.flatnonzero(history[user])
        shown = row[row >= 0]
        terms = [(1.0 - sim[i, seen].sum() / max(len(seen), 1)) * held_out[user, i] for i in shown]
        values.append(np.sum(terms) / max(len(shown), 1))
    return float(np.mean(values))


@pytest.mark.parametrize("seed", range(5))
def test_blocked_diversity_and_serendipity_equal_their_definitions(seed):
    """Computed on the recommended pairs and hits only, in blocks: same numbers as the loops."""
    rng = np.random.default_rng(seed)
    train = sp.random(40, 30, density=0.2, random_state=seed, format="csr")
    relevant = sp.random(40, 30, density=0.1, random_state=seed + 100, format="csr")
    recommended = np.array([rng.choice(30, 6, replace=False) for _ in range(40)])
    recommended[rng.random(recommended.shape) < 0.1] = -1
    assert m.intra_list_diversity(recommended, train, block_size=7) == pytest.approx(
        _diversity_by_definition(recommended, train), abs=1e-12
    )
    assert m.serendipity(recommended, relevant, train, chunk_size=5) == pytest.approx(
        _serendipity_by_definition(recommended, relevant, train), abs=1e-12
    )


def test_shapes_are_checked():
    with pytest.raises(ValueError, match="2-D"):
        m.precision_at_k(np.array([1, 2]), RELEVANT)
    with pytest.raises(ValueError, match="rows"):
        m.precision_at_k(RECOMMENDED[:1], RELEVANT)
    with pytest.raises(TypeError, match="sparse"):
        m.precision_at_k(RECOMMENDED, RELEVANT.toarray())
