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
