"""Two-tower retrieval model in Keras: behaviour and content in one embedding space.

The user tower embeds the user id, plus user features (persona, demographics, context
shares) when given; the item tower embeds the item id plus a linear projection of the item's
features (TF-IDF SVD vectors, category indicators). Both outputs are L2-normalized and a pair
scores ``cos(u, v) / temperature``. Training maximizes the softmax likelihood of each
observed (user, item) pair against the whole catalogue (``negatives="full"``, exact and cheap
up to some ten thousand items) or against the other items of the batch (``"in_batch"``, with
the log-popularity correction of Yi et al., RecSys 2019). Items with no training interaction
are represented by their features alone, which is what lets the model rank cold-start items.

The model trains ``max_epochs`` epochs and calls ``callback(epoch, model)`` after each, with
its vectors refreshed so the callback can score it; early stopping is such a callback
(``workbench.evaluation.early_stopping.EarlyStopping``), which ends training by raising
``StopTraining``.

After ``fit`` the model keeps only NumPy arrays (``user_vectors_``, ``item_vectors_``), so it
pickles and serves like any other recommender; TensorFlow is needed for training only (the
Keras code is in ``workbench.models.two_tower_net``, imported by ``fit``).
"""

from __future__ import annotations

import logging
import time

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import check_random_state

from workbench.features.text import ItemProfiles
from workbench.models.base import Recommender

log = logging.getLogger(__name__)


def _dense_features(features) -> np.ndarray | None:
    """Features as a 2-D float32 ndarray (``ItemProfiles`` as their matrix; None stays None)."""
    if features is None:
        return None
    if isinstance(features, ItemProfiles):
        features = features.matrix
    dense = features.toarray() if sp.issparse(features) else np.asarray(features)
    return np.asarray(dense, dtype=np.float32)


class TwoTowerRecommender(Recommender):
    """Two-tower retrieval model (Keras, CPU) on the recommender contract.

    ``fit`` takes optional ``item_features`` (ndarray, sparse or ``ItemProfiles`` of shape
    (n_items, n_item_features), made dense: prefer low-dimensional vectors such as
    ``profile_embeddings`` to wide TF-IDF profiles) and ``user_features`` (shape (n_users,
    n_user_features)).

    Parameters
    ----------
    embedding_dim : int, default=64
    negatives : {"full", "in_batch"}, default="full"
        Softmax over the whole catalogue, or over the batch's items with logQ correction.
    temperature : float, default=0.2
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
        Epochs to train, unless the callback stops training earlier.
    random_state : int, optional
        Seeds NumPy, Python and TensorFlow; ops are made deterministic.
    verbose : int, default=0
        Keras progress output.

    Attributes
    ----------
    user_vectors_ : ndarray of shape (n_users, embedding_dim)
    item_vectors_ : ndarray of shape (n_items, embedding_dim)
        Unit vectors; an item without training interactions is its projected features only.
    item_bias_ : ndarray of shape (n_items,)
        Learned popularity term of each item's logit (the median for unseen items).
    item_support_ : ndarray of shape (n_items,)
        Training interactions per item.
    history_ : dict of str to list of float
        Per-epoch training ``loss``.
    n_epochs_ : int
        Epochs trained (fewer than ``max_epochs`` when the callback stopped training).
    fit_seconds_ : float
    """

    iterative = True

    def __init__(
        self,
        embedding_dim: int = 64,
        negatives: str = "full",
        temperature: float = 0.2,
        learning_rate: float = 0.005,
        l2: float = 0.0,
        id_dropout: float = 0.0,
        batch_size: int = 1024,
        max_epochs: int = 40,
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
        self.random_state = random_state
        self.verbose = verbose

    def _check_params(self) -> None:
        if self.negatives not in ("full", "in_batch"):
            raise ValueError(f"negatives must be 'full' or 'in_batch', got {self.negatives!r}")
        if not 0.0 <= self.id_dropout < 1.0:
            raise ValueError(f"id_dropout must be in [0, 1), got {self.id_dropout}")
        if self.max_epochs < 1:
            raise ValueError(f"max_epochs must be >= 1, got {self.max_epochs}")

    def _fit(self, user_items: sp.csr_matrix, item_features, user_features, callback) -> None:
        self._check_params()
        from workbench.models import two_tower_net  # TensorFlow, only when training

        started = time.perf_counter()
        seed = int(check_random_state(self.random_state).randint(2**31 - 1))
        features = _dense_features(item_features), _dense_features(user_features)
        self.item_support_ = np.diff(user_items.tocsc().indptr)
        net = two_tower_net.build(
            user_items,
            self.embedding_dim,
            *features,
            self.l2,
            self.id_dropout,
            self.temperature,
            self.negatives,
            seed,
        )

        def on_epoch(epoch: int, net) -> None:
            if callback is not None:  # refresh the vectors only when someone looks
                self._set_vectors(net, *features)
                self._epoch_done(epoch, callback)

        history = two_tower_net.train(
            net,
            user_items,
            self.max_epochs,
            self.batch_size,
            self.learning_rate,
            seed,
            on_epoch,
            self.verbose,
        )
        self.history_ = {name: [float(v) for v in values] for name, values in history.items()}
        self.n_epochs_ = len(self.history_["loss"])
        self._set_vectors(net, *features)
        self.fit_seconds_ = time.perf_counter() - started
        log.info("two-tower: %d epochs, %.1f s", self.n_epochs_, self.fit_seconds_)

    def _set_vectors(self, net, item_features, user_features) -> None:
        """Unit user and item vectors of ``net``; unseen items keep their features only."""
        from workbench.models.two_tower_net import tower_vectors

        unseen = self.item_support_ == 0
        self.user_vectors_ = tower_vectors(net.user_tower, user_features, None)
        self.item_vectors_ = tower_vectors(net.item_tower, item_features, unseen)
        bias = net.item_bias.embeddings.numpy()[:, 0].astype(np.float64)
        bias[unseen] = np.median(bias[~unseen]) if (~unseen).any() else 0.0
        self.item_bias_ = bias

    def _score(self, user_idx: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        cosine = self.user_vectors_[user_idx] @ self.item_vectors_.T
        return cosine / self.temperature + self.item_bias_[None, :]

    def _item_vectors(self) -> np.ndarray:
        return self.item_vectors_


def suggest(trial) -> dict:
    """Search space of ``TwoTowerRecommender``; ``trial`` is an ``optuna.Trial``."""
    return {
        "embedding_dim": trial.suggest_categorical("embedding_dim", [32, 64, 128]),
        "temperature": trial.suggest_float("temperature", 0.03, 0.5, log=True),
        "learning_rate": trial.suggest_float("learning_rate", 1e-3, 3e-2, log=True),
        "l2": trial.suggest_float("l2", 1e-9, 1e-4, log=True),
        "id_dropout": trial.suggest_float("id_dropout", 0.0, 0.5),
    }


def limit_threads(n_threads: int) -> None:
    """Cap TensorFlow's thread pools; call before any TensorFlow work (imports TensorFlow)."""
    from workbench.models.two_tower_net import limit_threads as limit

    limit(n_threads)
