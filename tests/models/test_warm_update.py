"""Warm updates of a recommender: partial fits for ALS, a refit for EASE, what changed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from workbench.data.interactions import IdMap
from workbench.models import incremental
from workbench.models.ease import EASE
from workbench.models.factorization import ALS


def _matrix(pairs: pd.DataFrame, users: IdMap, items: IdMap) -> sp.csr_matrix:
    rows, cols = users.to_index(pairs["user"]), items.to_index(pairs["item"])
    return sp.csr_matrix((np.ones(len(pairs)), (rows, cols)), shape=(len(users), len(items)))


def _site(seed: int = 0, n_users: int = 120, n_items: int = 40) -> pd.DataFrame:
    """Two taste groups; the last 10 users and 4 items arrive with the new pairs."""
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(n_users):
        group = user % 2
        liked = [i for i in range(n_items) if i % 2 == group]
        for item in rng.choice(liked, 8, replace=False):
            rows.append((f"u{user}", f"i{item}", user >= n_users - 10 or item >= n_items - 4))
    return pd.DataFrame(rows, columns=["user", "item", "new"])


def test_reindex_moves_pairs_by_id_and_drops_unknown_ones():
    users, items = IdMap.from_values(["a", "b"]), IdMap.from_values(["x", "y"])
    matrix = sp.csr_matrix(np.array([[1.0, 0.0], [0.0, 2.0]]))
    to_users, to_items = IdMap.from_values(["c", "b", "a"]), IdMap.from_values(["y"])
    moved = incremental.reindex(matrix, users, items, to_users, to_items).toarray()
    np.testing.assert_array_equal(moved, [[0.0], [2.0], [0.0]])


def test_als_partial_fit_adds_users_and_items_and_keeps_untouched_factors():
    pairs = _site()
    old_pairs = pairs[~pairs["new"]]
    old_users, old_items = (
        IdMap.from_values(old_pairs["user"]),
        IdMap.from_values(old_pairs["item"]),
    )
    new_users, new_items = IdMap.from_values(pairs["user"]), IdMap.from_values(pairs["item"])
    old, new = _matrix(old_pairs, old_users, old_items), _matrix(pairs, new_users, new_items)
    model = ALS(
        factors=8, regularization=0.1, alpha=5.0, iterations=10, num_threads=1, random_state=0
    )
    model.fit(old)
    before_users = model.user_factors_.copy()
    update = incremental.warm_update(model, old, old_users, old_items, new, new_users, new_items)
    assert (update.method, update.users_added, update.items_added) == ("partial_fit", 10, 4)
    assert update.pairs_appended == new.nnz - old.nnz
    assert model.user_factors_.shape[0] == new.shape[0] and model.n_items_ == new.shape[1]
    # a user none of whose pairs changed keeps its factors, at its new index
    changed = set(pairs.loc[pairs["new"], "user"])
    untouched = next(u for u in old_users.ids if u not in changed)
    np.testing.assert_array_equal(
        model.user_factors_[new_users.to_index([untouched])[0]],
        before_users[old_users.to_index([untouched])[0]],
    )
    assert update.users_updated == len(changed) < len(new_users)
    # the new users are served by their taste group: the other group's items score lower
    new_user = new_users.to_index(["u119"])[0]  # odd group
    scores = model.score(np.array([new_user]), new)[0]
    odd = new_items.to_index([f"i{i}" for i in range(1, 40, 2)])
    even = new_items.to_index([f"i{i}" for i in range(0, 40, 2)])
    assert scores[odd].mean() > scores[even].mean()


def test_ease_is_refit_and_matches_a_cold_fit():
    pairs = _site(1)
    old_pairs = pairs[~pairs["new"]]
    old_users, old_items = (
        IdMap.from_values(old_pairs["user"]),
        IdMap.from_values(old_pairs["item"]),
    )
    new_users, new_items = IdMap.from_values(pairs["user"]), IdMap.from_values(pairs["item"])
    old, new = _matrix(old_pairs, old_users, old_items), _matrix(pairs, new_users, new_items)
    model = EASE(l2=50.0).fit(old)
    update = incremental.warm_update(model, old, old_users, old_items, new, new_users, new_items)
    assert update.method == "refit" and update.items_updated == len(new_items)
    np.testing.assert_allclose(model.weights_, EASE(l2=50.0).fit(new).weights_)
