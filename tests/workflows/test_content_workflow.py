"""The content-based experiment on a tiny synthetic site: split, features, tuning, metrics."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.data.coldstart import prepare_cold_start
from workbench.data.interactions import weighted_pairs
from workbench.data.sources import synthetic
from workbench.evaluation import explain
from workbench.models.content import ContentRecommender
from workbench.tuning import Budget
from workbench.workflows import content


@pytest.fixture(scope="module")
def tables():
    return synthetic.generate(n_users=120, n_items=40, n_days=10, seed=7)


@pytest.fixture(scope="module")
def data(tables):
    pairs = weighted_pairs(tables["events"], half_life_days=30.0)
    assert pairs["weight"].between(0.0, 1.0).all()
    return prepare_cold_start(pairs, 0.2, 0.75, max_interactions=3, seed=1)


def test_cold_start_data_withholds_items_from_train_and_fit(data):
    m = data.matrices
    assert data.withheld.sum() == round(0.2 * m.train.shape[1])
    assert m.train[:, data.withheld].nnz == 0 and m.test[:, data.withheld].nnz > 0
    assert data.sparse_test[data.withheld].all()
    assert (m.fit + m.valid - m.train).count_nonzero() == 0
    assert m.fit[:, data.sparse_valid].nnz < m.valid[:, data.sparse_valid].nnz + m.fit.nnz


def test_tune_scoring_reports_overall_and_cold_metrics(tables, data):
    inputs = content.content_inputs(tables["events"], tables["items"], data, 8)
    profiles, dense = inputs.profiles, inputs.dense
    assert dense.shape[0] == profiles.shape[0] == data.matrices.train.shape[1]
    result = content.tune_scoring("content", ContentRecommender(), data, Budget(2), profiles)
    assert set(result.params) == {"use_confidence", "popularity_weight"}
    assert 0.0 <= result.metrics["coldstart_ndcg_at_10"] <= 1.0
    assert result.metrics["coldstart_users"] > 0
    examples = explain.example_items(data, 2)
    table = explain.similar_items_table(
        result.model, tables["items"], data.matrices.items, examples, k=3
    )
    assert len(table) == 6 and (table["matching_terms"] != "").all()
    for features in inputs.user_features:
        assert features.shape[0] == data.matrices.train.shape[0] and np.isfinite(features).all()
