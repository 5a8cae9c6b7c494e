"""The recommender contract every model family implements.

A recommender is a scikit-learn estimator over a users x items CSR matrix of confidences.
Subclasses implement ``_fit(user_items)`` and ``_score(user_idx, user_items)``; this base
provides validation, top-k selection with seen items filtered, and ``similar_items``.
Iterative models also accept a ``callback(epoch, model)`` in ``fit``, called after each epoch
with the partly trained model (Optuna pruning uses it; raising stops training).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted


def check_user_items(user_items) -> sp.csr_matrix:
    """Return ``user_items`` as float32 CSR; raise ``TypeError`` for anything not sparse."""
    if not sp.issparse(user_items):
        raise TypeError(f"user_items must be a scipy CSR matrix, got {type(user_items).__name__}")
    if user_items.format != "csr":
        raise TypeError(f"user_items must be CSR, got {user_items.format.upper()}")
    return user_items.astype(np.float32)


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


class Recommender(BaseEstimator):
    """Base of all recommenders.

    Subclasses store hyperparameters in ``__init__`` unchanged, and implement

    - ``_fit(user_items)``: learn from a ``csr_matrix of shape (n_users, n_items)``,
      setting attributes that end in ``_``;
    - ``_score(user_idx, user_items)``: a dense ``ndarray of shape (len(user_idx), n_items)``
      of scores, higher is better;
    - ``_item_vectors()``: ``ndarray or sparse matrix of shape (n_items, n_features)`` used
      by ``similar_items`` (cosine); the default uses ``train_items_`` when the model keeps
      its training matrix.

    Iterative subclasses set the class attribute ``iterative = True`` and call
    ``self._epoch_done(epoch, callback)`` after each epoch.
    """

    iterative: bool = False

    def fit(self, user_items, y=None, callback: Callable | None = None):
        """Learn from ``user_items``.

        Parameters
        ----------
        user_items : csr_matrix of shape (n_users, n_items)
            Confidences (non-zero = interaction).
        y : ignored
        callback : callable, optional
            ``callback(epoch, model)`` after each epoch of an iterative model; ignored by
            closed-form models.

        Returns
        -------
        self
        """
        user_items = check_user_items(user_items)
        if user_items.shape[0] == 0 or user_items.shape[1] == 0:
            raise ValueError(f"user_items is empty: shape {user_items.shape}")
        self.n_users_, self.n_items_ = user_items.shape
        self._fit(user_items, callback)
        return self

    def _fit(self, user_items: sp.csr_matrix, callback: Callable | None) -> None:
        raise NotImplementedError  # pragma: no cover - abstract

    def _epoch_done(self, epoch: int, callback: Callable | None) -> None:
        if callback is not None:
            callback(epoch, self)

    def _score(self, user_idx: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        raise NotImplementedError  # pragma: no cover - abstract

    def recommend(self, user_idx, user_items, k: int = 10, filter_seen: bool = True):
        """Top-``k`` items for one user or an array of users.

        Parameters
        ----------
        user_idx : int or array-like of shape (n_users_requested,)
        user_items : csr_matrix of shape (n_users, n_items)
            The interactions to filter (usually the training matrix), indexed like training.
        k : int
        filter_seen : bool
            Never return an item the user has in ``user_items``.

        Returns
        -------
        item_idx, scores : ndarray of shape (k,) for one user, (n_users_requested, k) for many
        """
        check_is_fitted(self, "n_items_")
        user_items = check_user_items(user_items)
        if user_items.shape[1] != self.n_items_:
            raise ValueError(
                f"user_items has {user_items.shape[1]} items, the model was fit on {self.n_items_}"
            )
        single = np.ndim(user_idx) == 0
        users = np.atleast_1d(np.asarray(user_idx, dtype=np.int64))
        scores = np.asarray(self._score(users, user_items), dtype=np.float64)
        if filter_seen:
            seen = user_items[users]
            rows = np.repeat(np.arange(len(users)), np.diff(seen.indptr))
            scores[rows, seen.indices] = -np.inf
        item_idx, item_scores = top_k(scores, k)
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
