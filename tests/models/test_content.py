"""Content-based recommender: the obviously right item ranks first, with its reasons."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.base import clone

from workbench.data.interactions import interaction_weights
from workbench.features.text import build_item_profiles
from workbench.models.content import ContentRecommender


@pytest.fixture
def profiles():
    items = pd.DataFrame(
        {
            "item_id": ["a", "b", "c", "d"],
            "title": ["", "", "", ""],
            "text": [
                "space alien rocket launch",
                "space alien invasion army",
                "romantic love story letters",
                "romantic love harbour walk",
            ],
            "categories": [["SciFi"], ["SciFi"], ["Romance"], ["Romance"]],
        }
    )
    return build_item_profiles(items, max_df=1.0)


@pytest.fixture
def user_items():
    # user 0 consumed the rocket film, user 1 the love letters
    return sp.csr_matrix(np.array([[1, 0, 0, 0], [0, 0, 1, 0]], dtype=np.float32))


def test_ranks_the_obvious_item_first(profiles, user_items):
    model = ContentRecommender().fit(user_items, item_features=profiles)
    items, scores = model.recommend(np.array([0, 1]), user_items, k=3)
    assert items.shape == (2, 3)
    assert items[0, 0] == 1 and items[1, 0] == 3
    assert 0 not in items[0] and 2 not in items[1]
    assert scores[0, 0] > scores[0, 1]


def test_similar_items_with_matching_terms(profiles, user_items):
    model = ContentRecommender().fit(user_items, item_features=profiles)
    table = model.explain_similar(0, k=2)
    assert table["item_idx"].iloc[0] == 1
    assert set(table["terms"].iloc[0]) == {"space", "alien", "category:SciFi"}
    explained = model.explain_recommendations(1, user_items, k=1)
    assert explained["item_idx"].iloc[0] == 3 and "romantic" in explained["terms"].iloc[0]


def test_clone_and_validation(profiles, user_items):
    model = ContentRecommender(popularity_weight=0.3)
    assert clone(model).get_params() == model.get_params()
    with pytest.raises(ValueError, match="item_features"):
        ContentRecommender().fit(user_items)
    with pytest.raises(ValueError, match="rows"):
        ContentRecommender().fit(user_items, item_features=profiles.matrix[:3])
    blended = model.fit(user_items, item_features=profiles)
    assert blended.recommend(0, user_items, k=1)[0][0] == 1


def test_interaction_weights_decay_and_scale_ratings():
    events = pd.DataFrame(
        {
            "value": [5.0, 2.5, np.nan],
            "timestamp": pd.to_datetime(["2024-01-31", "2024-01-31", "2024-01-01"], utc=True),
        }
    )
    weights = interaction_weights(events, half_life_days=30.0)
    np.testing.assert_allclose(weights, [1.0, 0.5, 0.5], rtol=1e-6)
    np.testing.assert_allclose(interaction_weights(events, half_life_days=None), [1, 0.5, 1])
