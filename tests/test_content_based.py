"""The content-based experiment on a tiny synthetic site: split, features, tuning, metrics."""

from __future__ import annotations

import numpy as np
import pytest

from workbench import content_based
from workbench.data.sources import synthetic
from workbench.models import content


@pytest.fixture(scope="module")
def tables():
    return synthetic.generate(n_users=120, n_items=40, n_days=10, seed=7)


@pytest.fixture(scope="module")
def data(tables):
    pairs = content_based.weighted_pairs(tables["events"], half_life_days=30.0)
    assert pairs["weight"].between(0.0, 1.0).all()
    return content_based.prepare_cold_start(pairs, 0.2, 0.75, max_interactions=3, seed=1)


def test_cold_start_data_withholds_items_from_train_and_fit(data):
    m = data.matrices
    assert data.withheld.sum() == round(0.2 * m.train.shape[1])
    assert m.train[:, data.withheld].nnz == 0 and m.test[:, data.withheld].nnz > 0
    assert data.sparse_test[data.withheld].all()
    assert (m.fit + m.valid - m.train).count_nonzero() == 0
    assert m.fit[:, data.sparse_valid].nnz < m.valid[:, data.sparse_valid].nnz + m.fit.nnz


def test_tune_scoring_reports_overall_and_cold_metrics(tables, data):
    profiles, dense = content_based.item_features(tables["items"], data.matrices.items, 8)
    assert dense.shape[0] == profiles.shape[0] == data.matrices.train.shape[1]
    result = content_based.tune_scoring(
        "content", content.ContentRecommender(), content.suggest, data, 2, None, "t",
        item_features=profiles,
    )  # fmt: skip
    assert set(result.params) == {"use_confidence", "popularity_weight"}
    assert 0.0 <= result.metrics["coldstart_ndcg_at_10"] <= 1.0
    assert result.metrics["coldstart_users"] > 0
    examples = content_based.example_items(data, 2)
    table = content_based.similar_items_table(
        result.model, tables["items"], data.matrices.items, examples, k=3
    )
    assert len(table) == 6 and (table["matching_terms"] != "").all()
    features = content_based.user_context_features(tables["events"], data, "fit")
    assert features.shape[0] == data.matrices.train.shape[0] and np.isfinite(features).all()
