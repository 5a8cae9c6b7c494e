"""EASE: embarrassingly shallow autoencoder (Steck, WWW 2019).

Closed form: with ``G = X^T X + lambda I`` and ``P = G^-1``, the item-item weights are
``B = I - P diag(1 / diag(P))`` (zero diagonal); ``score(u) = x_u B``.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from workbench.models.base import ItemItemRecommender


class EASE(ItemItemRecommender):
    """Linear item-item autoencoder with a closed-form solution.

    Memory and time grow with ``n_items ** 2`` and ``n_items ** 3``: suited to catalogues of
    up to a few tens of thousands of items.

    Parameters
    ----------
    l2 : float
        The L2 penalty ``lambda`` on the weights.

    Attributes
    ----------
    weights_ : ndarray of shape (n_items, n_items)
        ``B``, zero diagonal.
    """

    def __init__(self, l2: float = 300.0):
        self.l2 = l2

    def _fit(self, user_items: sp.csr_matrix, item_features, user_features, callback) -> None:
        if self.l2 <= 0:
            raise ValueError(f"l2 must be > 0, got {self.l2}")
        binary = user_items.copy()
        binary.data[:] = 1.0
        gram = (binary.T @ binary).toarray().astype(np.float64)
        gram[np.diag_indices_from(gram)] += self.l2
        precision = scipy.linalg.inv(gram, overwrite_a=True, check_finite=False)
        weights = precision / (-np.diag(precision))
        weights[np.diag_indices_from(weights)] = 0.0
        self.weights_ = weights.astype(np.float32)


def suggest(trial) -> dict:
    """Search space of ``EASE``; ``trial`` is an ``optuna.Trial``."""
    return {"l2": trial.suggest_float("l2", 10.0, 5000.0, log=True)}
