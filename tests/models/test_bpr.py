"""BPR's negative sampling: uniform over the items a user has not seen, unlike implicit's."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from workbench.models import bpr


def _popular_matrix() -> sp.csr_matrix:
    """200 users; item 0 seen by everyone but user 0, items 1..9 by user 0 only."""
    rows = [*range(1, 200), *[0] * 9]
    cols = [*[0] * 199, *range(1, 10)]
    return sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(200, 20))


@pytest.mark.parametrize("cells", [10**9, 0], ids=["dense table", "sorted keys"])
def test_negatives_are_uniform_over_unseen_items(monkeypatch, cells):
    monkeypatch.setattr(bpr, "DENSE_LOOKUP_CELLS", cells)
    matrix = _popular_matrix()
    seen = bpr._seen_lookup(matrix)
    users = np.repeat(np.arange(200), 500)
    negatives = bpr._unseen_negatives(users, seen, 20, np.random.RandomState(0), tries=10)
    drawn = negatives >= 0
    assert drawn.mean() > 0.999  # a sample is skipped only after 11 seen draws in a row
    assert not matrix[users[drawn], negatives[drawn]].any()  # never a training pair
    counts = np.bincount(negatives[(users == 0) & drawn], minlength=20)
    assert counts[1:10].sum() == 0 and counts[0] > 0
    # for the other users every item but 0 is equally likely: 19 items, 199 x 500 draws
    others = np.bincount(negatives[users > 0], minlength=20)[1:]
    assert (negatives[users > 0] >= 0).all()
    assert others.min() > 0.9 * others.mean()


def test_a_seen_draw_skips_the_sample_by_default():
    matrix = _popular_matrix()
    users = np.repeat(np.arange(200), 500)
    negatives = bpr._unseen_negatives(users, bpr._seen_lookup(matrix), 20, np.random.RandomState(0))
    skipped = negatives < 0
    # user 0 has seen 9 of 20 items, the others 1 of 20: cornac's rule, no second draw
    assert abs(skipped[users == 0].mean() - 9 / 20) < 0.07
    assert abs(skipped[users > 0].mean() - 1 / 20) < 0.01
    assert not matrix[users[~skipped], negatives[~skipped]].any()


def test_scatter_add_sums_repeated_rows():
    target = np.zeros((4, 2), dtype=np.float32)
    values = np.arange(10, dtype=np.float32).reshape(5, 2)
    bpr._scatter_add(target, np.array([3, 1, 3, 0, 3]), values)
    expected = np.zeros((4, 2), dtype=np.float32)
    np.add.at(expected, np.array([3, 1, 3, 0, 3]), values)
    np.testing.assert_array_equal(target, expected)


def test_bad_sizes_are_refused():
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        bpr.BPR(batch_size=0).fit(_popular_matrix())
