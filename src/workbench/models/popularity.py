"""Most-popular baseline: every user gets the items with the most training interactions."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from workbench.models.base import Recommender


class Popularity(Recommender):
    """Rank items by the number of users who interacted with them in training.

    It is also the fallback for users the model has never seen.

    Attributes
    ----------
    item_popularity_ : ndarray of shape (n_items,)
        Number of training users per item.
    train_items_ : csr_matrix of shape (n_users, n_items)
        The training matrix (for ``similar_items`` by co-occurrence).
    """

    def _fit(self, user_items: sp.csr_matrix, item_features, user_features, callback) -> None:
        self.item_popularity_ = np.diff(user_items.tocsc().indptr).astype(np.float64)
        self.train_items_ = user_items

    def _score(self, user_idx: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        return np.broadcast_to(self.item_popularity_, (len(user_idx), self.n_items_)).copy()


def suggest(trial) -> dict:
    """Popularity has no hyperparameters; ``trial`` is an ``optuna.Trial``."""
    return {}


class GenrePopularity(Recommender):
    """Cold-start baseline: an item scores the popularity of its genres in training.

    A genre's popularity is the mean number of training users of its items that have any
    (the items new to training do not dilute it); an item's score
    is the mean popularity of its genres (0 without genres), so an item never seen in
    training still ranks by what its genres draw. The same ranking for every user.

    ``item_features``: category indicators of shape (n_items, n_genres), non-zero = genre
    (``workbench.features.text.category_indicators``).

    Attributes
    ----------
    genre_popularity_ : ndarray of shape (n_genres,)
    item_popularity_ : ndarray of shape (n_items,)
        Each item's score.
    """

    needs_item_features = True

    def _fit(self, user_items: sp.csr_matrix, item_features, user_features, callback) -> None:
        genres = sp.csr_matrix(item_features, dtype=np.float64, copy=True)
        genres.data[:] = 1.0
        users_per_item = np.diff(user_items.tocsc().indptr).astype(np.float64)
        trained = (users_per_item > 0).astype(np.float64)
        items_per_genre = genres.T @ trained
        users_per_genre = genres.T @ users_per_item
        self.genre_popularity_ = users_per_genre / np.maximum(items_per_genre, 1.0)
        genres_per_item = np.asarray(genres.sum(axis=1)).ravel()
        self.item_popularity_ = (genres @ self.genre_popularity_) / np.maximum(genres_per_item, 1)
        self.train_items_ = user_items

    def _score(self, user_idx: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        return np.broadcast_to(self.item_popularity_, (len(user_idx), self.n_items_)).copy()
