"""The recommender contract every model family implements.

A recommender is a scikit-learn estimator over a users x items CSR matrix of confidences:

- ``fit(user_items, item_features=None, user_features=None, callback=None) -> self``;
  collaborative models ignore the side data, content models require ``item_features``;
- ``score(user_idx, user_items)``: every item's score for some users, higher is better;
- ``recommend(user_idx, user_items, k)``: the top ``k`` of ``score`` with seen items filtered;
- ``similar_items(item_idx, k)``: cosine neighbours of an item's vector.

Subclasses implement ``_fit`` and ``_score``. Iterative models call ``callback(epoch, model)``
after each epoch with the partly trained model (early stopping and Optuna pruning use it); a
callback ends training early by raising ``StopTraining``, after which the model stays fitted
with the state it has. Any other exception (``optuna.TrialPruned``) propagates.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

log = logging.getLogger(__name__)


class StopTraining(Exception):
    """Raised by a fit callback to end training early; the model keeps its current state.

    A signal rather than an error (like ``StopIteration``): ``Recommender.fit`` catches it and
    returns the fitted model.
    """


def check_user_items(user_items) -> sp.csr_matrix:
    """Return ``user_items`` as float32 CSR; raise ``TypeError`` for anything not sparse CSR.

    No copy is made when ``user_items`` is float32 CSR already.
    """
    if not sp.issparse(user_items):
        raise TypeError(f"user_items must be a scipy CSR matrix, got {type(user_items).__name__}")
    if user_items.format != "csr":
        raise TypeError(f"user_items must be CSR, got {user_items.format.upper()}")
    return user_items.astype(np.float32, copy=False)


def check_side_data(features, n_rows: int, name: str, row_name: str) -> None:
    """Raise ``ValueError`` unless ``features`` (when given) has ``n_rows`` rows.

    Parameters
    ----------
    features : ItemProfiles, sparse matrix, ndarray or None
    n_rows : int
    name : str
        The argument's name, for the message (``"item_features"``).
    row_name : str
        What the rows are, for the message (``"items"``).
    """
    if features is None:
        return
    shape = tuple(getattr(features, "shape", None) or np.shape(features))
    if len(shape) != 2:
        raise ValueError(f"{name} must be 2-D (n_{row_name}, n_features), got shape {shape}")
    if shape[0] != n_rows:
        raise ValueError(f"{name} has {shape[0]} rows for {n_rows} {row_name}")


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values of the ``k`` largest entries of each row, best first.

    Parameters
    ----------
    scores : ndarray of shape (n_rows, n_items)
    k : int

    Returns
    -------
    item_idx, item_scores : ndarray of shape (n_rows, min(k, n_items))
    """
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    part_scores = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-part_scores, axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1), np.take_along_axis(part_scores, order, axis=1)


def standardize_rows(scores: np.ndarray) -> np.ndarray:
    """Each row minus its mean, over its standard deviation (rows of constants become 0).

    Parameters
    ----------
    scores : ndarray of shape (n_rows, n_items)

    Returns
    -------
    ndarray of shape (n_rows, n_items)
    """
    scores = np.asarray(scores, dtype=np.float64)
    centred = scores - scores.mean(axis=1, keepdims=True)
    spread = centred.std(axis=1, keepdims=True)
    return centred / np.where(spread > 1e-12, spread, 1.0)


def rank_rows(scores: np.ndarray) -> np.ndarray:
    """Each entry's rank within its row scaled to [0, 1] (1 for the row's best; ties by order).

    Parameters
    ----------
    scores : ndarray of shape (n_rows, n_items)

    Returns
    -------
    ndarray of shape (n_rows, n_items)
    """
    scores = np.asarray(scores, dtype=np.float64)
    order = np.argsort(scores, axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(scores.shape[1])[None, :], axis=1)
    return ranks / max(scores.shape[1] - 1, 1)


class Recommender(BaseEstimator):
    """Base of all recommenders.

    Subclasses store hyperparameters in ``__init__`` unchanged, and implement

    - ``_fit(user_items, item_features, user_features, callback)``: learn from a validated
      ``csr_matrix of shape (n_users, n_items)`` (side data already checked for its number
      of rows), setting attributes that end in ``_``;
    - ``_score(user_idx, user_items)``: a dense ``ndarray of shape (len(user_idx), n_items)``
      of scores, higher is better;
    - ``_item_vectors()``: ``ndarray or sparse matrix of shape (n_items, n_features)`` used
      by ``similar_items`` (cosine); the default uses ``train_items_`` when the model keeps
      its training matrix.

    Class attributes describe the family: ``iterative`` models train in epochs and call
    ``self._epoch_done(epoch, callback)`` after each; ``needs_item_features`` models refuse
    to fit without ``item_features``.
    """

    iterative: bool = False
    needs_item_features: bool = False

    def fit(
        self,
        user_items,
        item_features=None,
        user_features=None,
        callback: Callable | None = None,
    ) -> Recommender:
        """Learn from ``user_items`` and, for models that use them, item and user features.

        Parameters
        ----------
        user_items : csr_matrix of shape (n_users, n_items)
            Confidences (non-zero = interaction).
        item_features : ItemProfiles, sparse matrix or ndarray, optional
            Item side data of shape (n_items, n_features): TF-IDF profiles, embeddings,
            category indicators. Ignored by collaborative models, required by content models.
        user_features : sparse matrix or ndarray of shape (n_users, n_user_features), optional
            User side data (personas, demographics, context shares); ignored by models that
            do not use it.
        callback : callable, optional
            ``callback(epoch, model)`` after each epoch of an iterative model (``epoch`` from
            0); it may raise ``StopTraining`` to end training. Ignored by closed-form models.

        Returns
        -------
        self
        """
        user_items = check_user_items(user_items)
        if user_items.shape[0] == 0 or user_items.shape[1] == 0:
            raise ValueError(f"user_items is empty: shape {user_items.shape}")
        n_users, n_items = user_items.shape
        if item_features is None and self.needs_item_features:
            raise ValueError(
                f"{type(self).__name__} needs item_features: fit(user_items, item_features=...)"
            )
        check_side_data(item_features, n_items, "item_features", "items")
        check_side_data(user_features, n_users, "user_features", "users")
        self.n_users_, self.n_items_ = n_users, n_items
        try:
            self._fit(user_items, item_features, user_features, callback)
        except StopTraining as stop:
            log.info("%s: training stopped by its callback (%s)", type(self).__name__, stop)
        return self

    def _fit(
        self,
        user_items: sp.csr_matrix,
        item_features,
        user_features,
        callback: Callable | None,
    ) -> None:
        raise NotImplementedError  # pragma: no cover - abstract

    def _epoch_done(self, epoch: int, callback: Callable | None) -> None:
        if callback is not None:
            callback(epoch, self)

    def _score(self, user_idx: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        raise NotImplementedError  # pragma: no cover - abstract

    def _check_request(self, user_idx, user_items) -> tuple[np.ndarray, sp.csr_matrix]:
        """Validated user indices (1-D int64) and ``user_items`` of a scoring request."""
        check_is_fitted(self, "n_items_")
        user_items = check_user_items(user_items)
        if user_items.shape[1] != self.n_items_:
            raise ValueError(
                f"user_items has {user_items.shape[1]} items, the model was fit on {self.n_items_}"
            )
        users = np.atleast_1d(np.asarray(user_idx))
        if users.size == 0:
            users = users.astype(np.int64)
        if users.ndim != 1 or not np.issubdtype(users.dtype, np.integer):
            raise ValueError(
                f"user_idx must be an int or a 1-D array of ints, got {users.dtype} of shape "
                f"{np.shape(user_idx)}"
            )
        n_rows = user_items.shape[0]
        if len(users) and (users.min() < 0 or users.max() >= n_rows):
            raise ValueError(f"user_idx must index the {n_rows} rows of user_items")
        return users.astype(np.int64, copy=False), user_items

    def score(self, user_idx, user_items) -> np.ndarray:
        """Every item's score for the requested users, higher is better (seen items included).

        Parameters
        ----------
        user_idx : int or array-like of int of shape (n_requested,)
        user_items : csr_matrix of shape (n_users, n_items)
            The users' interactions (usually the training matrix), indexed like training.

        Returns
        -------
        ndarray of shape (n_requested, n_items)
            float64; one row even for a single ``int`` user.
        """
        users, user_items = self._check_request(user_idx, user_items)
        return np.array(self._score(users, user_items), dtype=np.float64)

    def recommend(self, user_idx, user_items, k: int = 10, filter_seen: bool = True):
        """Top-``k`` items of ``score`` for one user or an array of users.

        Parameters
        ----------
        user_idx : int or array-like of int of shape (n_requested,)
        user_items : csr_matrix of shape (n_users, n_items)
            The interactions to filter (usually the training matrix), indexed like training.
        k : int
        filter_seen : bool
            Never return an item the user has in ``user_items``.

        Returns
        -------
        item_idx, scores : ndarray of shape (k,) for one user, (n_requested, k) for many
        """
        users, user_items = self._check_request(user_idx, user_items)
        scores = self.score(users, user_items)
        if filter_seen:
            seen = user_items[users]
            rows = np.repeat(np.arange(len(users)), np.diff(seen.indptr))
            scores[rows, seen.indices] = -np.inf
        item_idx, item_scores = top_k(scores, k)
        single = np.ndim(user_idx) == 0
        return (item_idx[0], item_scores[0]) if single else (item_idx, item_scores)

    def _item_vectors(self) -> np.ndarray | sp.spmatrix:
        if not hasattr(self, "train_items_"):
            raise NotImplementedError(f"{type(self).__name__} has no item vectors")
        return self.train_items_.T.tocsr()

    def similar_items(self, item_idx: int, k: int = 10):
        """The ``k`` items most similar (cosine) to ``item_idx``, excluding itself.

        Returns
        -------
        item_idx, scores : ndarray of shape (k,)
        """
        check_is_fitted(self, "n_items_")
        vectors = self._item_vectors()
        if sp.issparse(vectors):
            norms = np.sqrt(np.asarray(vectors.multiply(vectors).sum(axis=1))).ravel()
            sims = np.asarray((vectors @ vectors[item_idx].T).todense()).ravel()
        else:
            norms = np.linalg.norm(vectors, axis=1)
            sims = vectors @ vectors[item_idx]
        sims = sims / np.maximum(norms * norms[item_idx], 1e-12)
        sims[item_idx] = -np.inf
        idx, values = top_k(sims[None, :], k)
        return idx[0], values[0]


class ItemItemRecommender(Recommender):
    """A recommender that scores through an item-item weight matrix (EASE, RP3beta).

    Subclasses set ``weights_``, an ndarray of shape (n_items, n_items), in ``_fit``; a user's
    scores are the sum of the weight rows of the items they have seen, ``x_u @ weights_``.
    """

    def _score(self, user_idx: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        rows = user_items[user_idx].copy()
        rows.data[:] = 1.0
        return np.asarray(rows @ self.weights_)

    def _item_vectors(self) -> np.ndarray:
        return self.weights_
