"""Cold-start split: withheld items never reach training; sparse-item restriction."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from workbench.data.coldstart import cold_start_split, restrict_to_items, sparse_items
from workbench.data.splits import stratified_split


@pytest.fixture
def events() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "user_id": rng.integers(0, 50, 2000).astype(str),
            "item_id": rng.integers(0, 100, 2000).astype(str),
        }
    )


def test_cold_items_are_withheld_and_rows_partitioned(events):
    train, test, cold = cold_start_split(events, cold_item_fraction=0.2, seed=1)
    assert len(cold) == 20
    assert not train["item_id"].isin(cold).any()
    assert set(cold) <= set(test["item_id"])
    assert len(train) + len(test) == len(events)
    assert not set(train.index) & set(test.index)
    assert 0.15 < len(test[~test["item_id"].isin(cold)]) / len(events) < 0.35


def test_split_is_reproducible_and_takes_a_warm_splitter(events):
    first = cold_start_split(events, seed=3)
    again = cold_start_split(events, seed=3)
    np.testing.assert_array_equal(first[2], again[2])
    assert first[0].index.equals(again[0].index)
    train, _, cold = cold_start_split(
        events, seed=3, warm_split=lambda frame: stratified_split(frame, 0.75, seed=42)
    )
    assert not train["item_id"].isin(cold).any()
    with pytest.raises(ValueError, match="cold_item_fraction"):
        cold_start_split(events, cold_item_fraction=1.0)


def test_sparse_items_and_restriction():
    train = sp.csr_matrix(np.array([[1, 1, 0, 0], [1, 0, 0, 1], [1, 0, 0, 0]], dtype=float))
    mask = sparse_items(train, max_interactions=2)
    np.testing.assert_array_equal(mask, [False, True, True, True])
    test = sp.csr_matrix(np.array([[0, 0, 1, 1], [0, 1, 0, 0], [1, 0, 0, 0]], dtype=float))
    restricted = restrict_to_items(test, mask)
    assert restricted.shape == test.shape
    np.testing.assert_array_equal(restricted.toarray(), [[0, 0, 1, 1], [0, 1, 0, 0], [0, 0, 0, 0]])
    with pytest.raises(ValueError, match="item_mask"):
        restrict_to_items(test, mask[:2])
