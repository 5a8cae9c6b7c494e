"""One contract suite, run against every registered collaborative family.

The tiny matrix has three blocks: ten users who each know all but one of their block's eight
items. The right answer for each user is the one missing item of their own block.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from workbench.models.registry import FAMILIES

N_BLOCKS, USERS_PER_BLOCK, ITEMS_PER_BLOCK = 3, 10, 8
SMALL = {
    "item_knn": {"n_neighbors": 20, "shrink": 1.0},
    "user_knn": {"n_neighbors": 20, "shrink": 1.0},
    "ease": {"l2": 5.0},
    "als": {"factors": 4, "iterations": 15, "regularization": 0.01, "num_threads": 1},
    "bpr": {"factors": 8, "iterations": 200, "learning_rate": 0.05, "num_threads": 1},
    "svd": {"n_components": 3},
}
PERSONALIZED = sorted(set(SMALL) & set(FAMILIES))
ALL = sorted(set(SMALL) | {"popularity"})


def block_matrix() -> tuple[sp.csr_matrix, np.ndarray]:
    """The users x items matrix and each user's missing (right-answer) item."""
    rows, cols, missing = [], [], []
    for user in range(N_BLOCKS * USERS_PER_BLOCK):
        block = user // USERS_PER_BLOCK
        items = block * ITEMS_PER_BLOCK + np.arange(ITEMS_PER_BLOCK)
        left_out = items[user % ITEMS_PER_BLOCK]
        kept = items[items != left_out]
        rows += [user] * len(kept)
        cols += kept.tolist()
        missing.append(left_out)
    shape = (N_BLOCKS * USERS_PER_BLOCK, N_BLOCKS * ITEMS_PER_BLOCK)
    matrix = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=shape)
    return matrix, np.array(missing)


@pytest.fixture(scope="module")
def matrix():
    return block_matrix()


def make(name: str):
    return FAMILIES[name].make(SMALL.get(name, {}), seed=0)


@pytest.fixture(scope="module", params=ALL)
def fitted(request, matrix):
    return request.param, make(request.param).fit(matrix[0])


@pytest.mark.parametrize("name", ALL)
def test_is_a_clonable_estimator_that_stores_its_parameters(name):
    model = make(name)
    params = model.get_params()
    assert clone(model).get_params() == params
    assert params == {**params, **SMALL.get(name, {})}
    assert not [key for key in vars(model) if key.endswith("_")], "work done in __init__"
    with pytest.raises(NotFittedError):
        model.recommend(0, block_matrix()[0])


def test_fit_returns_self_and_learns_attributes_ending_in_underscore(matrix):
    for name in ALL:
        model = make(name)
        before = set(vars(model))
        assert model.fit(matrix[0]) is model
        learned = set(vars(model)) - before
        assert learned and all(key.endswith("_") for key in learned), (name, learned)


def test_recommends_the_missing_item_of_each_users_block(fitted, matrix):
    name, model = fitted
    if name not in PERSONALIZED:
        pytest.skip("popularity is not personalized")
    user_items, missing = matrix
    items, _ = model.recommend(np.arange(user_items.shape[0]), user_items, k=1)
    assert (items[:, 0] == missing).mean() == 1.0


def test_popularity_ranks_by_number_of_users(matrix):
    user_items = matrix[0].tolil()
    user_items[:3, 20] = 1.0  # item 20: 8 users of its block plus 3 others, the most of all
    user_items = user_items.tocsr()
    model = make("popularity").fit(user_items)
    items, scores = model.recommend(5, user_items, k=3)
    assert items[0] == 20 and scores[0] == np.diff(user_items.tocsc().indptr).max()


def test_shapes_order_and_seen_filter(fitted, matrix):
    _, model = fitted
    user_items = matrix[0]
    items, scores = model.recommend(3, user_items, k=5)
    assert items.shape == scores.shape == (5,)
    assert np.all(np.diff(scores) <= 1e-6)
    assert not set(items) & set(user_items[3].indices)
    many, many_scores = model.recommend(np.array([0, 3, 7]), user_items, k=4)
    assert many.shape == many_scores.shape == (3, 4)
    np.testing.assert_array_equal(many[1], items[:4])
    unfiltered, _ = model.recommend(3, user_items, k=user_items.shape[1], filter_seen=False)
    assert set(user_items[3].indices) <= set(unfiltered)


def test_similar_items_excludes_the_item_and_prefers_its_block(fitted):
    name, model = fitted
    items, scores = model.similar_items(2, k=3)
    assert items.shape == scores.shape == (3,)
    assert 2 not in items
    if name in PERSONALIZED:
        assert (items // ITEMS_PER_BLOCK == 0).all()


def test_refuses_wrong_input(fitted, matrix):
    _, model = fitted
    with pytest.raises(TypeError, match="CSR"):
        model.recommend(0, matrix[0].tocoo())
    with pytest.raises(TypeError, match="CSR"):
        make("ease").fit(matrix[0].toarray())
    with pytest.raises(ValueError, match="items"):
        model.recommend(0, sp.csr_matrix((30, 5), dtype=np.float32))


@pytest.mark.parametrize("name", [n for n in ALL if FAMILIES[n].seeded])
def test_seeded_families_repeat(name, matrix):
    first = make(name).fit(matrix[0]).recommend(np.arange(5), matrix[0], k=3)[0]
    again = make(name).fit(matrix[0]).recommend(np.arange(5), matrix[0], k=3)[0]
    np.testing.assert_array_equal(first, again)


@pytest.mark.parametrize("name", ["als", "bpr"])
def test_iterative_families_call_back_each_epoch(name, matrix):
    epochs = []
    make(name).fit(matrix[0], callback=lambda epoch, model: epochs.append(epoch))
    assert epochs == list(range(SMALL[name]["iterations"]))
