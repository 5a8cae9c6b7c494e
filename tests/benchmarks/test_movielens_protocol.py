"""The MovieLens 100K reference protocol on the real data: sizes and a known-good model."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from workbench.data.splits import prepare_splits
from workbench.evaluation import evaluate
from workbench.models.ease import EASE

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.mirror, pytest.mark.slow]
sys.path.insert(0, str(ROOT / "benchmarks"))


def test_protocol_and_a_plain_ease_land_in_the_measured_range(mirror, tmp_path):
    from movielens import load_ratings

    ratings = load_ratings(mirror, tmp_path)
    data = prepare_splits(ratings, "stratified", 0.75, 0.75, 42, filter_by="item")
    assert data.train.shape == (943, 1682)
    assert data.train.nnz + data.test.nnz == 100_000
    assert data.train.multiply(data.test).nnz == 0
    # per item, floor(0.75 n) ratings train: items rated once are test-only
    assert 0.74 < data.train.nnz / 100_000 < 0.75
    result = evaluate(EASE(l2=400.0).fit(data.train), data.train, data.test, k=10)
    # BENCHMARKS.md: a plain EASE with lambda 300-500 scores about 0.484 on this protocol
    assert 0.47 < result["ndcg_at_10"] < 0.50
