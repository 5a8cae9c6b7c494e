"""Two-tower model specifics on a tiny block matrix (the contract suite covers the rest)."""

import pickle

import numpy as np
import pytest
import scipy.sparse as sp

from workbench.evaluation.early_stopping import EarlyStopping

neural = pytest.importorskip("workbench.models.neural")

pytestmark = pytest.mark.slow  # TensorFlow: seconds to import, seconds per fit


@pytest.fixture(scope="module")
def user_items() -> sp.csr_matrix:
    # users 0-11 consume items 0-5, users 12-23 items 6-11; each user misses one item
    dense = np.zeros((24, 13), dtype=np.float32)
    for user in range(24):
        block = np.arange(6) if user < 12 else np.arange(6, 12)
        dense[user, np.delete(block, user % 6)] = 1.0
    return sp.csr_matrix(dense)  # item 12 is never consumed


@pytest.fixture(scope="module")
def item_features() -> np.ndarray:
    features = np.zeros((13, 2), dtype=np.float32)
    features[:6, 0] = features[6:, 1] = 1.0
    features[12, 0] = 1.0  # the unconsumed item looks like the first block
    return features


def _model(**params):
    settings = dict(
        embedding_dim=8, max_epochs=25, batch_size=32, learning_rate=0.05, random_state=0
    )
    return neural.TwoTowerRecommender(**{**settings, **params})


@pytest.fixture(scope="module")
def fitted(user_items):
    return _model().fit(user_items)


def test_blocks_vectors_and_history(fitted, user_items):
    assert fitted.recommend(0, user_items, k=1)[0][0] == 0  # user 0's missing in-block item
    assert fitted.recommend(20, user_items, k=1)[0][0] == 8
    assert fitted.similar_items(0, k=4)[0].max() < 6
    assert fitted.user_vectors_.shape == (24, 8) and fitted.item_vectors_.shape == (13, 8)
    np.testing.assert_allclose(np.linalg.norm(fitted.user_vectors_, axis=1), 1.0, rtol=1e-5)
    assert fitted.n_epochs_ == 25 and len(fitted.history_["loss"]) == 25
    assert fitted.history_["loss"][-1] < fitted.history_["loss"][0]


def test_picklable_without_tensorflow_objects(fitted, user_items):
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(
        restored.recommend(np.arange(24), user_items)[0],
        fitted.recommend(np.arange(24), user_items)[0],
    )
    kinds = {type(value).__module__.split(".")[0] for value in vars(fitted).values()}
    assert kinds <= {"numpy", "builtins"}  # no Keras objects left on the model


def test_in_batch_features_place_the_cold_item_and_early_stopping_ends_training(
    user_items, item_features
):
    rng = np.random.default_rng(0)
    coo = user_items.tocoo()
    held = rng.random(coo.nnz) < 0.2

    def part(mask):
        return sp.csr_matrix((coo.data[mask], (coo.row[mask], coo.col[mask])), user_items.shape)

    fit_part, valid = part(~held), part(held)
    stopping = EarlyStopping(fit_part, valid, k=3, patience=1, min_delta=1.0)  # no gain counts
    model = _model(negatives="in_batch", max_epochs=6, batch_size=16)
    model.fit(fit_part, item_features=item_features, callback=stopping)
    assert model.n_epochs_ == len(stopping.history) == 2  # the first epoch, then one flat one
    assert stopping.best_epoch in (1, 2)
    assert np.abs(model.item_vectors_[12]).sum() > 0  # features alone place the cold item
    assert model.item_support_[12] == 0


def test_refuses_bad_settings(user_items, item_features):
    for params, message in (
        ({"negatives": "sampled"}, "negatives"),
        ({"id_dropout": 1.0}, "id_dropout"),
        ({"max_epochs": 0}, "max_epochs"),
    ):
        with pytest.raises(ValueError, match=message):
            _model(**params).fit(user_items)
    with pytest.raises(ValueError, match="item_features"):
        _model().fit(user_items, item_features=item_features[:5])
