"""The Keras side of the two-tower model: towers, network, training loop, validation.

Imported by ``workbench.models.neural`` only while fitting, so a fitted model (NumPy arrays)
loads and serves without TensorFlow.
"""

from __future__ import annotations

import logging

import keras
import numpy as np
import scipy.sparse as sp
from keras import layers, ops

from workbench.evaluation.metrics import ndcg_at_k

log = logging.getLogger(__name__)

VALIDATION_METRIC = "val_ndcg_at_10"
STEPS_PER_EXECUTION = 8  # batches per graph call: less Python overhead per step on the CPU
MIN_DELTA = 1e-3  # a validation nDCG gain below this does not count as an improvement


def limit_threads(n_threads: int) -> None:
    """Cap TensorFlow's thread pools (only effective before TensorFlow first runs an op)."""
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(n_threads)
        tf.config.threading.set_inter_op_parallelism_threads(n_threads)
    except RuntimeError:
        log.debug("TensorFlow already initialized; thread limits unchanged")


class Tower(layers.Layer):
    """Id embedding plus a linear projection of fixed features, L2-normalized."""

    def __init__(self, n_rows, dim, features, l2, id_dropout, seed, **kwargs):
        super().__init__(**kwargs)
        regularizer = keras.regularizers.L2(l2) if l2 > 0 else None
        self.ids = layers.Embedding(n_rows, dim, embeddings_regularizer=regularizer)
        self.features = None if features is None else ops.convert_to_tensor(features)
        self.projection = (
            None
            if features is None
            else layers.Dense(dim, use_bias=False, kernel_regularizer=regularizer)
        )
        self.id_dropout = id_dropout
        self.seed = keras.random.SeedGenerator(seed)

    def call(self, index, training=False):
        vectors = self.ids(index)
        if training and self.id_dropout > 0:
            keep = keras.random.uniform((ops.shape(index)[0], 1), seed=self.seed)
            vectors = vectors * ops.cast(keep >= self.id_dropout, vectors.dtype)
        if self.projection is not None:
            vectors = vectors + self.projection(ops.take(self.features, index, axis=0))
        return ops.normalize(vectors, axis=-1)


class TwoTowerNet(keras.Model):
    """Logits of each user of a batch against the catalogue or the batch's items."""

    def __init__(self, user_tower, item_tower, n_items, temperature, negatives, log_q):
        super().__init__(name="two_tower")
        self.user_tower, self.item_tower = user_tower, item_tower
        self.n_items, self.temperature, self.negatives = n_items, temperature, negatives
        self.log_q = ops.convert_to_tensor(log_q)
        self.item_bias = layers.Embedding(n_items, 1, embeddings_initializer="zeros")

    def call(self, inputs, training=False):
        users, items = inputs
        user_vectors = self.user_tower(users, training=training)
        candidates = ops.arange(self.n_items) if self.negatives == "full" else items
        item_vectors = self.item_tower(candidates, training=training)
        logits = ops.matmul(user_vectors, ops.transpose(item_vectors)) / self.temperature
        logits = logits + ops.transpose(self.item_bias(candidates))
        if self.negatives == "full":
            return logits
        return logits - ops.take(self.log_q, items)[None, :]


class ValidationCallback(keras.callbacks.Callback):
    """Per epoch: refresh the recommender's vectors, add nDCG@10 on the validation split."""

    def __init__(self, recommender, fit_part, valid, callback):
        super().__init__()
        self.recommender, self.fit_part, self.valid = recommender, fit_part, valid
        self.users = np.flatnonzero(np.diff(valid.indptr)) if valid is not None else None
        self.callback = callback

    def on_epoch_end(self, epoch, logs=None):
        self.recommender._set_vectors(self.model)
        if self.valid is not None and len(self.users):
            recommended, _ = self.recommender.recommend(self.users, self.fit_part, k=10)
            value = ndcg_at_k(recommended, self.valid[self.users], k=10)
            if logs is not None:
                logs[VALIDATION_METRIC] = value
        self.recommender._epoch_done(epoch, self.callback)


def make_dataset(user_items: sp.csr_matrix, batch_size: int, negatives: str, seed: int):
    """Shuffled batches of ``((users, items), labels)`` over the matrix's non-zero pairs."""
    import tensorflow as tf

    coo = user_items.tocoo()
    pairs = tf.data.Dataset.from_tensor_slices((coo.row.astype(np.int32), coo.col.astype(np.int32)))
    pairs = pairs.shuffle(coo.nnz, seed=seed, reshuffle_each_iteration=True).batch(batch_size)

    def with_labels(users, items):
        labels = items if negatives == "full" else tf.range(tf.shape(users)[0])
        return (users, items), labels

    return pairs.map(with_labels).prefetch(2)


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


def tower_vectors(tower: Tower, features, unseen: np.ndarray | None) -> np.ndarray:
    """The tower's unit output for every row, with the id part of ``unseen`` rows zeroed."""
    vectors = np.array(tower.ids.embeddings.numpy(), dtype=np.float32)
    if unseen is not None and features is not None:
        vectors[unseen] = 0.0
    if tower.projection is not None:
        vectors = vectors + features @ tower.projection.kernel.numpy()
    return _unit_rows(vectors)


def build(
    user_items: sp.csr_matrix,
    dim: int,
    item_features: np.ndarray | None,
    user_features: np.ndarray | None,
    l2: float,
    id_dropout: float,
    temperature: float,
    negatives: str,
    seed: int,
) -> TwoTowerNet:
    """A fresh network for ``user_items``.

    Seeds Python, NumPy and TensorFlow with ``seed`` and turns on TensorFlow's deterministic
    ops (process-wide; on the CPU it costs little), so a fit is reproducible.
    """
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    n_users, n_items = user_items.shape
    counts = np.diff(user_items.tocsc().indptr).astype(np.float64) + 1.0
    log_q = np.log(counts / counts.sum()).astype(np.float32)
    user_tower = Tower(n_users, dim, user_features, l2, 0.0, seed, name="user_tower")
    item_tower = Tower(n_items, dim, item_features, l2, id_dropout, seed + 1, name="item_tower")
    return TwoTowerNet(user_tower, item_tower, n_items, temperature, negatives, log_q)


def train(
    net: TwoTowerNet,
    user_items: sp.csr_matrix,
    valid: sp.csr_matrix | None,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    patience: int,
    seed: int,
    recommender,
    callback,
    verbose: int = 0,
) -> dict[str, list[float]]:
    """Fit ``net`` with Adam; early stopping on validation nDCG@10 when ``valid`` is given.

    ``recommender`` is the ``TwoTowerRecommender`` whose vectors the validation callback
    refreshes each epoch before calling ``callback(epoch, recommender)``.

    Returns
    -------
    dict of str to list of float
        Keras history: ``loss`` and, with ``valid``, ``val_ndcg_at_10`` per epoch.
    """
    net.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        steps_per_execution=STEPS_PER_EXECUTION,
    )
    callbacks = [ValidationCallback(recommender, user_items, valid, callback)]
    if valid is not None:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor=VALIDATION_METRIC,
                mode="max",
                patience=patience,
                min_delta=MIN_DELTA,
                restore_best_weights=True,
            )
        )
    data = make_dataset(user_items, batch_size, net.negatives, seed)
    history = net.fit(data, epochs=epochs, verbose=verbose, callbacks=callbacks, shuffle=False)
    return history.history
