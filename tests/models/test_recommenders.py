"""One contract suite, run against every model of the catalogue.

The tiny matrix has three blocks: ten users who each know all but one of their block's eight
items; the item features (text and a category per block) and user features (a block
indicator) follow the same blocks. The right answer for each user is the one missing item of
their own block. A new model needs one entry in ``SMALL`` below (settings that keep it fast).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from workbench import models
from workbench.features.text import build_item_profiles
from workbench.models.base import StopTraining
from workbench.models.catalogue import FAMILIES, get_family

N_BLOCKS, USERS_PER_BLOCK, ITEMS_PER_BLOCK = 3, 10, 8
N_USERS, N_ITEMS = N_BLOCKS * USERS_PER_BLOCK, N_BLOCKS * ITEMS_PER_BLOCK
BLOCK_TEXT = ["space alien rocket", "romantic love letters", "detective murder mystery"]
BLOCK_CATEGORY = ["SciFi", "Romance", "Crime"]
SMALL = {
    "popularity": {},
    "item_knn": {"n_neighbors": 20, "shrink": 1.0},
    "user_knn": {"n_neighbors": 20, "shrink": 1.0},
    "ease": {"l2": 5.0},
    "als": {"factors": 4, "iterations": 15, "regularization": 0.01, "num_threads": 1},
    "bpr": {"factors": 8, "iterations": 60, "learning_rate": 0.1, "batch_size": 32},
    "bpr_implicit": {"factors": 8, "iterations": 200, "learning_rate": 0.05, "num_threads": 1},
    "svd": {"n_components": 3},
    "rp3beta": {"alpha": 1.0, "beta": 0.3},
    "blend": {"l2": 5.0, "factors": 4, "regularization": 0.01, "iterations": 15},
    "content": {},
    "hybrid": {"content_weight": 0.3},
    "two_tower": {"embedding_dim": 8, "max_epochs": 12, "batch_size": 64, "learning_rate": 0.05},
}
SLOW = {"two_tower"}  # TensorFlow: seconds to import, seconds per fit


def cases(names) -> list:
    """Test parameters of ``names``, the slow models marked ``slow``."""
    return [pytest.param(name, marks=pytest.mark.slow) if name in SLOW else name for name in names]


NAMES = cases(SMALL)
ITERATIVE = cases(name for name in SMALL if FAMILIES[name].iterative)


def block_matrix() -> tuple[sp.csr_matrix, np.ndarray]:
    """The users x items matrix and each user's missing (right-answer) item."""
    rows, cols, missing = [], [], []
    for user in range(N_USERS):
        block = user // USERS_PER_BLOCK
        items = block * ITEMS_PER_BLOCK + np.arange(ITEMS_PER_BLOCK)
        left_out = items[user % ITEMS_PER_BLOCK]
        kept = items[items != left_out]
        rows += [user] * len(kept)
        cols += kept.tolist()
        missing.append(left_out)
    matrix = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(N_USERS, N_ITEMS))
    return matrix, np.array(missing)


def block_side_data() -> dict:
    """Item profiles (block words and category, plus a word of each item's own) and a user
    block indicator of shape (n_users, n_blocks)."""
    item_block = np.arange(N_ITEMS) // ITEMS_PER_BLOCK
    items = pd.DataFrame(
        {
            "item_id": [f"i{item}" for item in range(N_ITEMS)],
            "title": [""] * N_ITEMS,
            "text": [f"{BLOCK_TEXT[b]} word{item}" for item, b in enumerate(item_block)],
            "categories": [[BLOCK_CATEGORY[b]] for b in item_block],
        }
    )
    user_block = np.arange(N_USERS) // USERS_PER_BLOCK
    return {
        "item_features": build_item_profiles(items, max_df=1.0),
        "user_features": np.eye(N_BLOCKS, dtype=np.float32)[user_block],
    }


@pytest.fixture(scope="module")
def matrix():
    return block_matrix()


@pytest.fixture(scope="module")
def side_data():
    return block_side_data()


def make(name: str):
    return get_family(name).make(SMALL[name], seed=0)


@pytest.fixture(scope="module", params=NAMES)
def fitted(request, matrix, side_data):
    """``(name, model, attributes before fit, epochs called back, what fit returned)``."""
    name, model, epochs = request.param, make(request.param), []
    before = set(vars(model))
    returned = model.fit(matrix[0], callback=lambda epoch, _: epochs.append(epoch), **side_data)
    return name, model, before, epochs, returned


def test_the_catalogue_is_explicit_and_complete():
    assert set(FAMILIES) == set(SMALL), "every catalogue model needs settings in SMALL"
    assert len(FAMILIES) == 13
    assert {name for name, f in FAMILIES.items() if f.needs_item_features} == {
        "content",
        "hybrid",
    }
    with pytest.raises(KeyError, match="known: .*'two_tower'"):
        get_family("deep_magic")


def _imports(path) -> set[str]:
    """Top-level packages imported anywhere in a module, and its module-level imports."""
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_models_stay_below_evaluation_and_free_of_tracking_and_tuning():
    package = Path(models.__file__).parent
    for path in package.glob("*.py"):
        imported = _imports(path)
        roots = {name.split(".")[0] for name in imported}
        assert not roots & {"mlflow", "optuna"}, path.name
        layers = {name.split(".")[1] for name in imported if name.startswith("workbench.")}
        assert layers <= {"models", "features", "data"}, (path.name, layers)
        if path.name != "two_tower_net.py":
            assert not roots & {"tensorflow", "keras"}, path.name


@pytest.mark.slow
def test_importing_the_catalogue_does_not_import_tensorflow_optuna_or_mlflow():
    code = (
        "import sys, workbench.models.catalogue\n"
        "heavy = {'tensorflow', 'keras', 'optuna', 'mlflow'}\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & heavy))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("name", NAMES)
def test_is_a_clonable_estimator_that_stores_its_parameters(name, matrix):
    model = make(name)
    params = model.get_params()
    assert clone(model).get_params() == params
    assert params == {**params, **SMALL[name]}
    assert not [key for key in vars(model) if key.endswith("_")], "work done in __init__"
    for method in (lambda: model.recommend(0, matrix[0]), lambda: model.score(0, matrix[0])):
        with pytest.raises(NotFittedError):
            method()
    with pytest.raises(NotFittedError):
        model.similar_items(0)


def test_fit_returns_self_and_learns_attributes_ending_in_underscore(fitted):
    name, model, before, _, returned = fitted
    assert returned is model
    learned = set(vars(model)) - before
    assert learned and all(key.endswith("_") for key in learned), (name, learned)
    assert (model.n_users_, model.n_items_) == (N_USERS, N_ITEMS)


def test_recommends_the_missing_item_of_each_users_block(fitted, matrix):
    name, model = fitted[:2]
    if name == "popularity":
        pytest.skip("popularity is not personalized")
    user_items, missing = matrix
    items, _ = model.recommend(np.arange(N_USERS), user_items, k=1)
    np.testing.assert_array_equal(items[:, 0], missing)


def test_popularity_ranks_by_number_of_users(matrix):
    user_items = matrix[0].tolil()
    user_items[:3, 20] = 1.0  # item 20: 8 users of its block plus 3 others, the most of all
    user_items = user_items.tocsr()
    model = make("popularity").fit(user_items)
    items, scores = model.recommend(5, user_items, k=3)
    assert items[0] == 20 and scores[0] == np.diff(user_items.tocsc().indptr).max()


def test_score_has_a_row_per_user_and_recommend_is_its_top_k(fitted, matrix):
    _, model = fitted[:2]
    user_items = matrix[0]
    users = np.array([0, 3, 17, 29])
    scores = model.score(users, user_items)
    assert scores.shape == (len(users), N_ITEMS) and scores.dtype == np.float64
    np.testing.assert_allclose(model.score(17, user_items), scores[[2]], rtol=1e-5, atol=1e-6)
    for filter_seen in (False, True):
        items, top = model.recommend(users, user_items, k=5, filter_seen=filter_seen)
        expected = scores.copy()
        if filter_seen:
            expected[user_items[users].toarray() > 0] = -np.inf
        np.testing.assert_allclose(top, -np.sort(-expected, axis=1)[:, :5])
        np.testing.assert_allclose(np.take_along_axis(expected, items, axis=1), top)


def test_shapes_order_and_seen_filter(fitted, matrix):
    _, model = fitted[:2]
    user_items = matrix[0]
    items, scores = model.recommend(3, user_items, k=5)
    assert items.shape == scores.shape == (5,)
    assert np.all(np.diff(scores) <= 1e-6)
    assert not set(items) & set(user_items[3].indices)
    many, many_scores = model.recommend(np.array([0, 3, 7]), user_items, k=4)
    assert many.shape == many_scores.shape == (3, 4)
    np.testing.assert_array_equal(many[1], items[:4])
    unfiltered, _ = model.recommend(3, user_items, k=N_ITEMS, filter_seen=False)
    assert set(user_items[3].indices) <= set(unfiltered)


def test_similar_items_excludes_the_item_and_prefers_its_block(fitted):
    name, model = fitted[:2]
    items, scores = model.similar_items(2, k=3)
    assert items.shape == scores.shape == (3,)
    assert 2 not in items
    if name != "popularity":
        assert (items // ITEMS_PER_BLOCK == 0).all()


def test_refuses_wrong_input(fitted, matrix, side_data):
    name, model = fitted[:2]
    user_items = matrix[0]
    with pytest.raises(TypeError, match="CSR"):
        model.recommend(0, user_items.tocoo())
    with pytest.raises(TypeError, match="CSR"):
        model.score(0, user_items.toarray())
    with pytest.raises(ValueError, match="items"):
        model.recommend(0, sp.csr_matrix((N_USERS, 5), dtype=np.float32))
    with pytest.raises(ValueError, match="user_idx"):
        model.score(N_USERS, user_items)
    with pytest.raises(ValueError, match="user_idx"):
        model.recommend(np.array([[0, 1]]), user_items)
    fresh = make(name)
    with pytest.raises(TypeError, match="CSR"):
        fresh.fit(user_items.toarray(), **side_data)
    with pytest.raises(ValueError, match="empty"):
        fresh.fit(sp.csr_matrix((0, N_ITEMS), dtype=np.float32), **side_data)
    with pytest.raises(ValueError, match="item_features has 23 rows for 24 items"):
        fresh.fit(user_items, side_data["item_features"].matrix[:23])
    with pytest.raises(ValueError, match="user_features has 29 rows for 30 users"):
        fresh.fit(user_items, side_data["item_features"], side_data["user_features"][:29])
    if get_family(name).needs_item_features:
        with pytest.raises(ValueError, match="needs item_features"):
            fresh.fit(user_items)
    assert not hasattr(fresh, "n_items_"), "a refused fit leaves the model unfitted"


def test_seeded_models_repeat(fitted, matrix, side_data):
    name = fitted[0]
    if not get_family(name).seeded:
        pytest.skip("not seeded")
    first = fitted[1].recommend(np.arange(N_USERS), matrix[0], k=3)[0]
    again = make(name).fit(matrix[0], **side_data)
    np.testing.assert_array_equal(again.recommend(np.arange(N_USERS), matrix[0], k=3)[0], first)


def _n_epochs(name: str) -> int:
    return SMALL[name].get("iterations", SMALL[name].get("max_epochs"))


def test_iterative_models_call_back_after_each_epoch(fitted):
    name, model, _, epochs, _ = fitted
    if not model.iterative:
        assert epochs == [], "closed-form models ignore the callback"
        return
    assert epochs == list(range(_n_epochs(name)))


@pytest.mark.parametrize("name", ITERATIVE)
def test_iterative_models_stop_on_stop_training_and_stay_fitted(name, matrix, side_data):
    user_items, seen = matrix[0], []

    def stop_after_three(epoch, model):
        seen.append((epoch, model.score(np.arange(4), user_items).shape))
        if epoch == 2:
            raise StopTraining("enough")

    model = make(name)
    assert model.fit(user_items, callback=stop_after_three, **side_data) is model
    assert seen == [(epoch, (4, N_ITEMS)) for epoch in range(3)]
    items, scores = model.recommend(np.arange(N_USERS), user_items, k=2)
    assert items.shape == (N_USERS, 2) and np.isfinite(scores).all()
    if hasattr(model, "n_epochs_"):
        assert model.n_epochs_ == 3 and len(model.history_["loss"]) == 3

    def prune(epoch, model):
        raise RuntimeError("pruned")  # any other exception ends fit with an error

    with pytest.raises(RuntimeError, match="pruned"):
        make(name).fit(user_items, callback=prune, **side_data)
