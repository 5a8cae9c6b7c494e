"""Two-tower model on the recommender contract, on a tiny block matrix (few epochs)."""

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone

neural = pytest.importorskip("workbench.models.neural")


@pytest.fixture(scope="module")
def user_items() -> sp.csr_matrix:
    # users 0-11 consume items 0-5, users 12-23 items 6-11; each user misses one item
    dense = np.zeros((24, 13), dtype=np.float32)
    for user in range(24):
        block = np.arange(6) if user < 12 else np.arange(6, 12)
        dense[user, np.delete(block, user % 6)] = 1.0
    return sp.csr_matrix(dense)  # item 12 is never consumed


def _model(**params):
    settings = dict(
        embedding_dim=8,
        max_epochs=25,
        batch_size=32,
        learning_rate=0.05,
        temperature=0.2,
        validation_fraction=0.0,
        random_state=0,
    )
    return neural.TwoTowerRecommender(**{**settings, **params})


def test_contract_shapes_seen_filtered_and_blocks(user_items):
    model = _model().fit(user_items)
    items, scores = model.recommend(np.arange(24), user_items, k=3)
    assert items.shape == scores.shape == (24, 3)
    seen = user_items.toarray().astype(bool)
    assert not seen[np.arange(24)[:, None], items].any()
    single, _ = model.recommend(0, user_items, k=1)
    assert single.shape == (1,)
    assert single[0] == 0  # the one in-block item user 0 has not seen
    assert model.recommend(20, user_items, k=1)[0][0] == 8
    assert model.similar_items(0, k=4)[0].max() < 6
    assert model.user_vectors_.shape == (24, 8) and model.item_vectors_.shape == (13, 8)


def test_clone_seeded_and_picklable(user_items):
    model = _model(max_epochs=3)
    assert clone(model).get_params() == model.get_params()
    first = model.fit(user_items).item_vectors_.copy()
    again = clone(model).fit(user_items).item_vectors_
    np.testing.assert_allclose(first, again, atol=1e-5)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(
        restored.recommend(1, user_items)[0], model.recommend(1, user_items)[0]
    )


def test_early_stopping_in_batch_features_and_callback(user_items):
    features = np.zeros((13, 2), dtype=np.float32)
    features[:6, 0] = features[6:, 1] = 1.0
    features[12, 0] = 1.0  # the unconsumed item looks like the first block
    epochs = []
    model = _model(
        negatives="in_batch", validation_fraction=0.2, max_epochs=4, patience=1, batch_size=16
    ).fit(user_items, item_features=features, callback=lambda epoch, m: epochs.append(epoch))
    assert epochs[0] == 0 and len(model.history_["val_ndcg_at_10"]) == len(epochs)
    assert 1 <= model.best_epoch_ <= 4
    assert np.abs(model.item_vectors_[12]).sum() > 0  # features alone place the cold item
    with pytest.raises(ValueError, match="negatives"):
        _model(negatives="sampled").fit(user_items)
    with pytest.raises(ValueError, match="item_features"):
        _model().fit(user_items, item_features=features[:5])
