"""The cold-only protocol (withheld items ranked among withheld items) and its baseline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from workbench.data.coldstart import prepare_cold_start
from workbench.evaluation import evaluate_cold_only
from workbench.evaluation.evaluate import recommend_among
from workbench.models.popularity import GenrePopularity, Popularity
from workbench.workflows import content
from workbench.workflows.results import FamilyResult


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    n_users, n_items = 60, 30
    pairs = pd.DataFrame(
        {
            "user_id": rng.integers(0, n_users, 900).astype(str),
            "item_id": (rng.zipf(1.5, 900) % n_items).astype(str),
            "weight": 1.0,
        }
    ).drop_duplicates(["user_id", "item_id"])
    return prepare_cold_start(pairs, 0.2, 0.75, max_interactions=3, seed=3)


def test_cold_only_candidates_exclude_warm_items(data):
    m = data.matrices
    model = Popularity().fit(m.train)  # on its own it would rank warm items first
    users = np.arange(m.train.shape[0])
    recommended = recommend_among(model, users, m.train, data.withheld, k=10)
    shown = recommended[recommended >= 0]
    assert shown.size and data.withheld[shown].all()
    metrics, per_user = evaluate_cold_only(model, data, k=10)
    cold_test = m.test[:, data.withheld]
    assert metrics["cold_only_users"] == np.count_nonzero(np.diff(cold_test.tocsr().indptr))
    assert per_user.shape == (metrics["cold_only_users"],)
    assert metrics["cold_only_items"] == data.withheld.sum() == 6


def test_genre_popularity_scores_items_by_their_genres():
    train = sp.csr_matrix(np.array([[1, 1, 0, 0], [1, 0, 0, 0], [1, 0, 1, 0]], float))
    genres = np.array([[1, 0], [1, 0], [0, 1], [1, 1]], float)  # item 3 is new, genres A and B
    model = GenrePopularity().fit(train, item_features=genres)
    np.testing.assert_allclose(model.genre_popularity_, [(3 + 1) / 2, 1 / 1])
    np.testing.assert_allclose(model.item_popularity_, [2.0, 2.0, 1.0, 1.5])
    with pytest.raises(ValueError, match="item_features"):
        GenrePopularity().fit(train)


def test_cold_only_table_pairs_every_model_with_the_baseline(data):
    m = data.matrices
    genres = (np.arange(m.train.shape[1])[:, None] % 3 == np.arange(3)).astype(float)
    baseline = GenrePopularity().fit(m.train, item_features=genres)
    results = [
        FamilyResult(content.BASELINE, baseline, {}, 0.0, {}, 0),
        FamilyResult("popularity", Popularity().fit(m.train), {}, 0.0, {}, 0),
    ]
    table = content.cold_only_table(results, data, k=5, n_bootstrap=200)
    assert table.loc[content.BASELINE, "vs_genre_popularity"] == 0.0
    row = table.loc["popularity"]
    assert row["ci_low"] <= row["vs_genre_popularity"] <= row["ci_high"]
    assert table.attrs["cold_only_items"] == 6
    with pytest.raises(ValueError, match="baseline"):
        content.cold_only_table(results[1:], data)
