"""The Keras side of the two-tower model: towers, network, training loop.

Imported by ``workbench.models.neural`` only while fitting, so a fitted model (NumPy arrays)
loads and serves without TensorFlow.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import keras
import numpy as np
import scipy.sparse as sp
from keras import layers, ops

from workbench.models.base import StopTraining

log = logging.getLogger(__name__)

STEPS_PER_EXECUTION = 8  # batches per graph call: less Python overhead per step on the CPU


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


class EpochCallback(keras.callbacks.Callback):
    """Calls ``on_epoch(epoch, net)`` after each epoch; ``StopTraining`` ends training there."""

    def __init__(self, on_epoch: Callable[[int, keras.Model], None]):
        super().__init__()
        self.on_epoch = on_epoch

    def on_epoch_end(self, epoch, logs=None):
        try:
            self.on_epoch(epoch, self.model)
        except StopTraining as stop:
            log.info("two-tower: stopped after epoch %d (%s)", epoch + 1, stop)
            self.model.stop_training = True


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
    epochs: int,
    batch_size: int,
    learning_rate: float,
    seed: int,
    on_epoch: Callable[[int, keras.Model], None],
    verbose: int = 0,
) -> dict[str, list[float]]:
    """Fit ``net`` with Adam for at most ``epochs`` epochs.

    ``on_epoch(epoch, net)`` runs after each epoch (``epoch`` from 0); raising ``StopTraining``
    there ends training after that epoch.

    Returns
    -------
    dict of str to list of float
        Keras history: ``loss`` per epoch trained.
    """
    net.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        steps_per_execution=STEPS_PER_EXECUTION,
    )
    data = make_dataset(user_items, batch_size, net.negatives, seed)
    callbacks = [EpochCallback(on_epoch)]
    history = net.fit(data, epochs=epochs, verbose=verbose, callbacks=callbacks, shuffle=False)
    return history.history
