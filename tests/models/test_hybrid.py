"""Hybrid: behaviour ranks known items, content ranks the items nobody has consumed."""

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import clone

from workbench.features.text import build_item_profiles
from workbench.models.content import ContentRecommender
from workbench.models.hybrid import HybridRecommender, rank_rows, standardize_rows
from workbench.models.neighbors import ItemKNN
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


class Spy(Popularity):
    """Popularity that records the side data and callback its ``fit`` received."""

    def _fit(self, user_items, item_features, user_features, callback):
        super()._fit(user_items, item_features, user_features, callback)
        self.received_ = (item_features, user_features, callback)


def test_side_data_goes_to_both_components_and_the_callback_to_the_collaborative_one():
    user_items, profiles = _data()
    users = np.ones((4, 2), dtype=np.float32)

    def callback(epoch, model):
        pass

    model = HybridRecommender(Spy(), Spy(), normalization="rank")
    model.fit(user_items, item_features=profiles, user_features=users, callback=callback)
    assert model.collaborative_.received_ == (profiles, users, callback)
    assert model.content_.received_ == (profiles, users, None)
    alpha = model.collaborative_share()[None, :]
    expected = alpha * rank_rows(model.collaborative_.score([0, 1], user_items)) + (
        1 - alpha
    ) * rank_rows(model.content_.score([0, 1], user_items))
    np.testing.assert_allclose(model.score([0, 1], user_items), expected)


def test_default_components_are_item_knn_and_content():
    user_items, profiles = _data()
    model = HybridRecommender().fit(user_items, item_features=profiles)
    assert isinstance(model.collaborative_, ItemKNN)
    assert isinstance(model.content_, ContentRecommender)
    assert model.collaborative is None and model.content is None  # parameters untouched
