"""Neighbourhood models: item-kNN and user-kNN with shrunk cosine similarity.

``sim(a, b) = x_a . x_b / (||x_a|| ||x_b|| + shrink)`` over the binarized training vectors,
keeping the ``n_neighbors`` most similar of each row (Sarwar et al. 2001; shrinkage as in
Koren 2008).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from workbench.models.base import Recommender, top_k


def cosine_neighbours(
    vectors: sp.csr_matrix, n_neighbors: int, shrink: float, block_size: int = 1024
) -> sp.csr_matrix:
    """Shrunk cosine similarity between the rows of ``vectors``, top ``n_neighbors`` per row.

    Parameters
    ----------
    vectors : csr_matrix of shape (n_rows, n_features)
    n_neighbors : int
    shrink : float
        Added to the product of norms; damps similarities resting on few co-occurrences.
    block_size : int
        Rows computed at once (memory ``block_size x n_rows``).

    Returns
    -------
    csr_matrix of shape (n_rows, n_rows)
        Zero diagonal; row ``a`` holds ``a``'s neighbours.
    """
    vectors = sp.csr_matrix(vectors, dtype=np.float32)
    n_rows = vectors.shape[0]
    norms = np.sqrt(np.asarray(vectors.multiply(vectors).sum(axis=1))).ravel()
    keep = max(min(int(n_neighbors), n_rows - 1), 1)
    transposed = vectors.T.tocsc()
    rows, cols, values = [], [], []
    for start in range(0, n_rows, block_size):
        stop = min(start + block_size, n_rows)
        block = (vectors[start:stop] @ transposed).toarray()
        block /= np.outer(norms[start:stop], norms) + shrink + 1e-12
        block[np.arange(stop - start), np.arange(start, stop)] = 0.0
        idx, sims = top_k(block, keep)
        rows.append(np.repeat(np.arange(start, stop), idx.shape[1]))
        cols.append(idx.ravel())
        values.append(sims.ravel())
    similarity = sp.csr_matrix(
        (np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n_rows, n_rows),
        dtype=np.float32,
    )
    similarity.eliminate_zeros()
    return similarity


def _binary(user_items: sp.csr_matrix) -> sp.csr_matrix:
    binary = user_items.copy()
    binary.data[:] = 1.0
    return binary


class ItemKNN(Recommender):
    """Item-based k nearest neighbours: ``score(u, i) = sum_j x_uj sim(j, i)``.

    Parameters
    ----------
    n_neighbors : int
        Neighbours kept per item.
    shrink : float
        Shrinkage of the cosine similarity.

    Attributes
    ----------
    similarity_ : csr_matrix of shape (n_items, n_items)
        Row ``j`` holds the neighbours of item ``j``.
    """

    def __init__(self, n_neighbors: int = 100, shrink: float = 10.0):
        self.n_neighbors = n_neighbors
        self.shrink = shrink

    def _fit(self, user_items: sp.csr_matrix, item_features, user_features, callback) -> None:
        _check_params(self.n_neighbors, self.shrink)
        self.similarity_ = cosine_neighbours(
            _binary(user_items).T.tocsr(), self.n_neighbors, self.shrink
        )

    def _score(self, user_idx: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        return (_binary(user_items[user_idx]) @ self.similarity_).toarray()

    def _item_vectors(self) -> sp.csr_matrix:
        return self.similarity_


class UserKNN(Recommender):
    """User-based k nearest neighbours: ``score(u, i) = sum_v sim(u, v) x_vi``.

    Scores use the neighbours found in training, so ``user_idx`` must index training users.

    Parameters
    ----------
    n_neighbors : int
        Neighbours kept per user.
    shrink : float
        Shrinkage of the cosine similarity.

    Attributes
    ----------
    similarity_ : csr_matrix of shape (n_users, n_users)
    train_items_ : csr_matrix of shape (n_users, n_items)
        Binarized training matrix.
    """

    def __init__(self, n_neighbors: int = 100, shrink: float = 10.0):
        self.n_neighbors = n_neighbors
        self.shrink = shrink

    def _fit(self, user_items: sp.csr_matrix, item_features, user_features, callback) -> None:
        _check_params(self.n_neighbors, self.shrink)
        self.train_items_ = _binary(user_items)
        self.similarity_ = cosine_neighbours(self.train_items_, self.n_neighbors, self.shrink)

    def _score(self, user_idx: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        return (self.similarity_[user_idx] @ self.train_items_).toarray()


def _check_params(n_neighbors: int, shrink: float) -> None:
    if n_neighbors < 1:
        raise ValueError(f"n_neighbors must be >= 1, got {n_neighbors}")
    if shrink < 0:
        raise ValueError(f"shrink must be >= 0, got {shrink}")


def suggest_item_knn(trial) -> dict:
    """Search space of ``ItemKNN``; ``trial`` is an ``optuna.Trial``."""
    return {
        "n_neighbors": trial.suggest_int("n_neighbors", 10, 1000, log=True),
        "shrink": trial.suggest_float("shrink", 0.0, 500.0),
    }


def suggest_user_knn(trial) -> dict:
    """Search space of ``UserKNN``; ``trial`` is an ``optuna.Trial``."""
    return {
        "n_neighbors": trial.suggest_int("n_neighbors", 10, 1000, log=True),
        "shrink": trial.suggest_float("shrink", 0.0, 500.0),
    }
