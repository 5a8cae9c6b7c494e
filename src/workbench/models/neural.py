"""Two-tower retrieval model in Keras: behaviour and content in one embedding space.

The user tower embeds the user id, plus user features (persona, demographics, context
shares) when given; the item tower embeds the item id plus a linear projection of the item's
features (TF-IDF SVD vectors, category indicators). Both outputs are L2-normalized and a pair
scores ``cos(u, v) / temperature``. Training maximizes the softmax likelihood of each
observed (user, item) pair against the whole catalogue (``negatives="full"``, exact and cheap
up to some ten thousand items) or against the other items of the batch (``"in_batch"``, with
the log-popularity correction of Yi et al., RecSys 2019). Early stopping watches nDCG@10 on a
validation split carved from the training matrix; the model is then refit on all of it for
the best number of epochs. Items with no training interaction are represented by their
features alone, which is what lets the model rank cold-start items.

After ``fit`` the model keeps only NumPy arrays (``user_vectors_``, ``item_vectors_``), so it
pickles and serves like any other recommender; TensorFlow is needed for training only.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import keras
import numpy as np
import scipy.sparse as sp
from keras import layers, ops
from sklearn.utils.validation import check_random_state

from workbench.evaluation.metrics import ndcg_at_k
from workbench.models.base import Recommender, check_user_items

log = logging.getLogger(__name__)

VALIDATION_METRIC = "val_ndcg_at_10"


def limit_threads(n_threads: int) -> None:
    """Cap TensorFlow's thread pools (only effective before TensorFlow first runs an op)."""
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(n_threads)
        tf.config.threading.set_inter_op_parallelism_threads(n_threads)
    except RuntimeError:
        log.debug("TensorFlow already initialized; thread limits unchanged")


class _Tower(layers.Layer):
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


class _TwoTowerNet(keras.Model):
    """Logits of each user of a batch against the catalogue or the batch's items."""

    def __init__(self, user_tower, item_tower, n_items, temperature, negatives, log_q):
        super().__init__(name="two_tower")
        self.user_tower, self.item_tower = user_tower, item_tower
        self.n_items, self.temperature, self.negatives = n_items, temperature, negatives
        self.log_q = ops.convert_to_tensor(log_q)

    def call(self, inputs, training=False):
        users, items = inputs
        user_vectors = self.user_tower(users, training=training)
        if self.negatives == "full":
            candidates = ops.arange(self.n_items)
            logits = ops.matmul(
                user_vectors, ops.transpose(self.item_tower(candidates, training=training))
            )
            return logits / self.temperature
        item_vectors = self.item_tower(items, training=training)
        logits = ops.matmul(user_vectors, ops.transpose(item_vectors)) / self.temperature
        return logits - ops.take(self.log_q, items)[None, :]


class _ValidationCallback(keras.callbacks.Callback):
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


def holdout(user_items: sp.csr_matrix, fraction: float, rng) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Split each user's interactions at random: ``fraction`` to validation, the rest to fit.

    Returns
    -------
    fit_part, valid : csr_matrix of shape (n_users, n_items), summing to ``user_items``
    """
    to_valid = rng.random_sample(user_items.nnz) < fraction
    coo = user_items.tocoo()
    shape = user_items.shape

    def part(mask):
        matrix = sp.csr_matrix((coo.data[mask], (coo.row[mask], coo.col[mask])), shape=shape)
        return matrix.astype(np.float32)

    return part(~to_valid), part(to_valid)


def _dataset(user_items: sp.csr_matrix, batch_size: int, negatives: str, seed: int):
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


def _dense_features(features, n_rows: int, name: str) -> np.ndarray | None:
    """Features as float32 ndarray with ``n_rows`` rows (None stays None)."""
    if features is None:
        return None
    dense = features.toarray() if sp.issparse(features) else np.asarray(features)
    dense = np.asarray(dense, dtype=np.float32)
    if dense.ndim != 2 or dense.shape[0] != n_rows:
        raise ValueError(f"{name} must have shape ({n_rows}, n_features), got {dense.shape}")
    return dense


class TwoTowerRecommender(Recommender):
    """Two-tower retrieval model (Keras, CPU) on the recommender contract.

    Parameters
    ----------
    embedding_dim : int, default=64
    negatives : {"full", "in_batch"}, default="full"
        Softmax over the whole catalogue, or over the batch's items with logQ correction.
    temperature : float, default=0.1
        Divides the cosine of user and item vectors in the softmax.
    learning_rate : float, default=0.005
        Adam step size.
    l2 : float, default=0.0
        L2 penalty on the id embeddings and feature projections.
    id_dropout : float in [0, 1), default=0.0
        Chance of dropping an id embedding in training, so the features learn to stand alone
        (helps cold-start items).
    batch_size : int, default=1024
    max_epochs : int, default=40
    patience : int, default=3
        Epochs without a better validation nDCG@10 before stopping.
    validation_fraction : float, default=0.1
        Share of each user's interactions held out for early stopping; 0 trains
        ``max_epochs`` epochs without validation.
    refit : bool, default=True
        After early stopping, train again on all interactions for the best number of epochs.
    random_state : int, optional
        Seeds NumPy, Python and TensorFlow; ops are made deterministic.
    verbose : int, default=0
        Keras progress output.

    Attributes
    ----------
    user_vectors_ : ndarray of shape (n_users, embedding_dim)
    item_vectors_ : ndarray of shape (n_items, embedding_dim)
        Unit vectors; an item without training interactions is its projected features only.
    best_epoch_ : int
        Number of epochs of the final training.
    history_ : dict of str to list of float
        Per-epoch ``loss`` and ``val_ndcg_at_10`` of the early-stopped run.
    fit_seconds_ : float
    """

    iterative = True

    def __init__(
        self,
        embedding_dim: int = 64,
        negatives: str = "full",
        temperature: float = 0.1,
        learning_rate: float = 0.005,
        l2: float = 0.0,
        id_dropout: float = 0.0,
        batch_size: int = 1024,
        max_epochs: int = 40,
        patience: int = 3,
        validation_fraction: float = 0.1,
        refit: bool = True,
        random_state: int | None = None,
        verbose: int = 0,
    ):
        self.embedding_dim = embedding_dim
        self.negatives = negatives
        self.temperature = temperature
        self.learning_rate = learning_rate
        self.l2 = l2
        self.id_dropout = id_dropout
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.refit = refit
        self.random_state = random_state
        self.verbose = verbose

    def fit(self, user_items, y=None, item_features=None, user_features=None, callback=None):
        """Train on ``user_items``, with optional item and user features.

        Parameters
        ----------
        user_items : csr_matrix of shape (n_users, n_items)
        y : ignored
        item_features : ndarray or sparse of shape (n_items, n_item_features), optional
            Dense text vectors (``profile_embeddings``), category indicators, ...
        user_features : ndarray or sparse of shape (n_users, n_user_features), optional
            Persona indicators, demographics, context shares.
        callback : callable, optional
            ``callback(epoch, model)`` after each epoch of the early-stopped run.
        """
        user_items = check_user_items(user_items)
        if self.negatives not in ("full", "in_batch"):
            raise ValueError(f"negatives must be 'full' or 'in_batch', got {self.negatives!r}")
        if not 0.0 <= self.validation_fraction < 1.0 or not 0.0 <= self.id_dropout < 1.0:
            raise ValueError("validation_fraction and id_dropout must be in [0, 1)")
        self._features = (
            _dense_features(item_features, user_items.shape[1], "item_features"),
            _dense_features(user_features, user_items.shape[0], "user_features"),
        )
        try:
            return super().fit(user_items, callback=callback)
        finally:
            del self._features

    def _fit(self, user_items: sp.csr_matrix, callback: Callable | None) -> None:
        started = time.perf_counter()
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(2**31 - 1))
        self.item_support_ = np.diff(user_items.tocsc().indptr)
        fit_part, valid = user_items, None
        if self.validation_fraction > 0:
            fit_part, valid = holdout(user_items, self.validation_fraction, rng)
        net, history = self._train(fit_part, valid, self.max_epochs, seed, callback)
        self.history_ = {name: [float(v) for v in values] for name, values in history.items()}
        scores = self.history_.get(VALIDATION_METRIC)
        self.best_epoch_ = int(np.argmax(scores)) + 1 if scores else len(self.history_["loss"])
        if valid is not None and self.refit:
            net, _ = self._train(user_items, None, self.best_epoch_, seed, None)
        self.item_support_ = np.diff(user_items.tocsc().indptr)
        self._set_vectors(net)
        self.fit_seconds_ = time.perf_counter() - started
        log.info("two-tower: %d epochs, %.1f s", self.best_epoch_, self.fit_seconds_)

    def _build(self, user_items: sp.csr_matrix, seed: int) -> _TwoTowerNet:
        item_features, user_features = self._features
        n_users, n_items = user_items.shape
        counts = np.diff(user_items.tocsc().indptr).astype(np.float64) + 1.0
        log_q = np.log(counts / counts.sum()).astype(np.float32)
        dim, l2 = self.embedding_dim, self.l2
        user_tower = _Tower(n_users, dim, user_features, l2, 0.0, seed, name="user_tower")
        item_tower = _Tower(
            n_items, dim, item_features, l2, self.id_dropout, seed + 1, name="item_tower"
        )
        return _TwoTowerNet(
            user_tower, item_tower, n_items, self.temperature, self.negatives, log_q
        )

    def _train(self, user_items, valid, epochs: int, seed: int, callback):
        """Build, compile and train a fresh network; early stopping when ``valid`` is given."""
        keras.utils.set_random_seed(seed)
        self.item_support_ = np.diff(user_items.tocsc().indptr)
        net = self._build(user_items, seed)
        net.compile(
            optimizer=keras.optimizers.Adam(self.learning_rate),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        callbacks = [_ValidationCallback(self, user_items, valid, callback)]
        if valid is not None:
            callbacks.append(
                keras.callbacks.EarlyStopping(
                    monitor=VALIDATION_METRIC,
                    mode="max",
                    patience=self.patience,
                    restore_best_weights=True,
                )
            )
        data = _dataset(user_items, self.batch_size, self.negatives, seed)
        history = net.fit(data, epochs=epochs, verbose=self.verbose, callbacks=callbacks)
        return net, history.history

    def _set_vectors(self, net: _TwoTowerNet) -> None:
        """Unit user and item vectors of ``net``; unseen items keep their features only."""
        item_features, user_features = getattr(self, "_features", (None, None))
        self.user_vectors_ = _tower_vectors(net.user_tower, user_features, None)
        self.item_vectors_ = _tower_vectors(net.item_tower, item_features, self.item_support_ == 0)

    def _score(self, user_idx: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        return self.user_vectors_[user_idx] @ self.item_vectors_.T

    def _item_vectors(self) -> np.ndarray:
        return self.item_vectors_


def _tower_vectors(tower: _Tower, features, unseen: np.ndarray | None) -> np.ndarray:
    """The tower's unit output for every row, with the id part of ``unseen`` rows zeroed."""
    vectors = np.array(tower.ids.embeddings.numpy(), dtype=np.float32)
    if unseen is not None and features is not None:
        vectors[unseen] = 0.0
    if tower.projection is not None:
        vectors = vectors + features @ tower.projection.kernel.numpy()
    return _unit_rows(vectors)


def suggest(trial) -> dict:
    """Optuna search space of ``TwoTowerRecommender``."""
    return {
        "embedding_dim": trial.suggest_categorical("embedding_dim", [32, 64, 128]),
        "temperature": trial.suggest_float("temperature", 0.03, 0.5, log=True),
        "learning_rate": trial.suggest_float("learning_rate", 1e-3, 3e-2, log=True),
        "l2": trial.suggest_float("l2", 1e-9, 1e-4, log=True),
        "id_dropout": trial.suggest_float("id_dropout", 0.0, 0.5),
    }


def log_training_curves(history: dict[str, list[float]], prefix: str = "two_tower") -> None:
    """Log per-epoch curves (``<prefix>.loss``, ...) to the active MLflow run, step = epoch."""
    import mlflow

    if mlflow.active_run() is None:
        return
    for name, values in history.items():
        for epoch, value in enumerate(values):
            mlflow.log_metric(f"{prefix}.{name}", float(value), step=epoch)
