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
pickles and serves like any other recommender; TensorFlow is needed for training only (the
Keras code is in ``workbench.models.two_tower_net``, imported by ``fit``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import check_random_state

from workbench.models.base import Recommender, check_user_items

log = logging.getLogger(__name__)

VALIDATION_METRIC = "val_ndcg_at_10"  # the early-stopping metric in ``history_``


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
    item_bias_ : ndarray of shape (n_items,)
        Learned popularity term of each item's logit (the median for unseen items).
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
        temperature: float = 0.2,
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

    def fit(
        self,
        user_items,
        y=None,
        item_features=None,
        user_features=None,
        valid_user_items=None,
        callback=None,
    ):
        """Train on ``user_items``, with optional item and user features.

        Parameters
        ----------
        user_items : csr_matrix of shape (n_users, n_items)
        y : ignored
        item_features : ndarray or sparse of shape (n_items, n_item_features), optional
            Dense text vectors (``profile_embeddings``), category indicators, ...
        user_features : ndarray or sparse of shape (n_users, n_user_features), optional
            Persona indicators, demographics, context shares.
        valid_user_items : csr_matrix of shape (n_users, n_items), optional
            An external validation split for early stopping (no refit after it); a share
            ``validation_fraction`` of ``user_items`` is held out when omitted.
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
        self._valid = None if valid_user_items is None else check_user_items(valid_user_items)
        try:
            return super().fit(user_items, callback=callback)
        finally:
            del self._features, self._valid

    def _fit(self, user_items: sp.csr_matrix, callback: Callable | None) -> None:
        started = time.perf_counter()
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(2**31 - 1))
        fit_part, valid = user_items, self._valid
        if valid is None and self.validation_fraction > 0:
            fit_part, valid = holdout(user_items, self.validation_fraction, rng)
        net, history = self._train(fit_part, valid, self.max_epochs, seed, callback)
        self.history_ = {name: [float(v) for v in values] for name, values in history.items()}
        scores = self.history_.get(VALIDATION_METRIC)
        self.best_epoch_ = int(np.argmax(scores)) + 1 if scores else len(self.history_["loss"])
        if valid is not None and self._valid is None and self.refit:
            net, _ = self._train(user_items, None, self.best_epoch_, seed, None)
        self._set_vectors(net)
        self.fit_seconds_ = time.perf_counter() - started
        log.info("two-tower: %d epochs, %.1f s", self.best_epoch_, self.fit_seconds_)

    def _train(self, user_items, valid, epochs: int, seed: int, callback):
        """Train a fresh network (early stopping when ``valid`` is given) on the fit part."""
        from workbench.models import two_tower_net

        self.item_support_ = np.diff(user_items.tocsc().indptr)
        item_features, user_features = self._features
        net = two_tower_net.build(
            user_items,
            self.embedding_dim,
            item_features,
            user_features,
            self.l2,
            self.id_dropout,
            self.temperature,
            self.negatives,
            seed,
        )
        history = two_tower_net.train(
            net,
            user_items,
            valid,
            epochs,
            self.batch_size,
            self.learning_rate,
            self.patience,
            seed,
            self,
            callback,
            self.verbose,
        )
        return net, history

    def _set_vectors(self, net) -> None:
        """Unit user and item vectors of ``net``; unseen items keep their features only."""
        from workbench.models.two_tower_net import tower_vectors

        item_features, user_features = getattr(self, "_features", (None, None))
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


def limit_threads(n_threads: int) -> None:
    """Cap TensorFlow's thread pools; call before any TensorFlow work (imports TensorFlow)."""
    from workbench.models.two_tower_net import limit_threads as limit

    limit(n_threads)


def register_family() -> None:
    """Add ``two_tower`` to the model registry (done on import of this module).

    Tuning trials early-stop on a share of the fit part and keep that model (no refit), so a
    trial costs one training.
    """
    from workbench.models import registry

    family = registry.Family(TwoTowerRecommender, suggest, fixed={"refit": False}, seeded=True)
    registry.register("two_tower", family)


register_family()
