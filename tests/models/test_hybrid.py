"""Hybrid: behaviour ranks known items, content ranks the items nobody has consumed."""

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import clone

from workbench.features.text import build_item_profiles
from workbench.models.content import ContentRecommender
from workbench.models.hybrid import HybridRecommender, standardize_rows
from workbench.models.popularity import Popularity


def _data():
    items = pd.DataFrame(
        {
            "item_id": list("abcd"),
            "title": [""] * 4,
            "text": ["space alien", "space alien war", "love story", "space alien rocket"],
            "categories": [["SciFi"], ["SciFi"], ["Romance"], ["SciFi"]],
        }
    )
    # item 3 (a new space film) has no interactions: a cold-start item
    user_items = sp.csr_matrix(
        np.array([[1, 0, 1, 0], [1, 1, 1, 0], [0, 1, 1, 0], [1, 0, 0, 0]], dtype=np.float32)
    )
    return user_items, build_item_profiles(items, max_df=1.0)


def test_cold_item_is_ranked_by_content():
    user_items, profiles = _data()
    model = HybridRecommender(Popularity(), ContentRecommender(), content_weight=0.0)
    model.fit(user_items, item_features=profiles)
    share = model.collaborative_share()
    assert share[3] == 0.0 and share[2] > share[0] * 0 and share.max() < 1.0
    items, _ = model.recommend(3, user_items, k=3)
    assert items[0] == 3  # the user who liked the space film gets the new space film first
    popular_only = Popularity().fit(user_items).recommend(3, user_items, k=3)[0]
    assert popular_only[-1] == 3


def test_clone_set_params_without_refit_and_standardize():
    user_items, profiles = _data()
    model = HybridRecommender(Popularity(), ContentRecommender())
    assert clone(model).get_params()["content_weight"] == 0.2
    model.fit(user_items, item_features=profiles)
    before = model.recommend(3, user_items, k=3)[1]
    after = model.set_params(content_weight=1.0).recommend(3, user_items, k=3)[1]
    assert not np.allclose(before, after)
    rows = standardize_rows(np.array([[1.0, 2.0, 3.0], [5.0, 5.0, 5.0]]))
    np.testing.assert_allclose(rows.mean(axis=1), 0.0, atol=1e-12)
    np.testing.assert_allclose(rows[1], 0.0)
