"""RP3beta and a blend of EASE, ALS and RP3beta scores: routes toward nDCG@10 0.50 on ML-100K.

RP3beta (Paudel et al. 2016) is a three-step random walk user -> item -> user -> item whose
item-to-item transition is divided by the target's popularity to the power ``beta``.

``Blend`` fits EASE, ALS and RP3beta on the same matrix, standardizes each one's scores per
user (``standardize_rows``) and adds them with weights tuned on validation (EASE's weight is
1). The three err differently (a linear autoencoder, a factorization, a graph walk), which is
why a blend can beat its best member.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from workbench.models.base import ItemItemRecommender, Recommender, standardize_rows
from workbench.models.ease import EASE
from workbench.models.factorization import ALS


def _row_normalized(matrix: sp.csr_matrix) -> sp.csr_matrix:
    sums = np.asarray(matrix.sum(axis=1)).ravel()
    return sp.diags(1.0 / np.maximum(sums, 1e-12)) @ matrix


class RP3beta(ItemItemRecommender):
    """Random walk of three steps with a popularity penalty.

    ``W = (P_ui^T-normalized @ P_ui) / pop^beta`` with ``P_ui`` the users' rows normalized
    to sum 1 (entries raised to ``alpha`` first), diagonal zeroed; ``score(u) = x_u W``.

    Parameters
    ----------
    alpha : float
        Exponent of the transition probabilities.
    beta : float
        Popularity penalty of the target item.

    Attributes
    ----------
    weights_ : ndarray of shape (n_items, n_items)
    """

    def __init__(self, alpha: float = 1.0, beta: float = 0.5):
        self.alpha = alpha
        self.beta = beta

    def _fit(self, user_items: sp.csr_matrix, item_features, user_features, callback) -> None:
        if self.alpha <= 0 or self.beta < 0:
            raise ValueError(f"alpha must be > 0 and beta >= 0, got {self.alpha}, {self.beta}")
        binary = user_items.copy()
        binary.data[:] = 1.0
        user_to_item = _row_normalized(binary).power(self.alpha)
        item_to_user = _row_normalized(binary.T.tocsr()).power(self.alpha)
        weights = (item_to_user @ user_to_item).toarray()
        popularity = np.asarray(binary.sum(axis=0)).ravel()
        weights /= np.power(np.maximum(popularity, 1.0), self.beta)[None, :]
        np.fill_diagonal(weights, 0.0)
        self.weights_ = weights.astype(np.float32)


class Blend(Recommender):
    """EASE + ``als_weight`` x ALS + ``rp3_weight`` x RP3beta, each standardized per user.

    Parameters
    ----------
    l2 : float
        EASE's regularization.
    factors, regularization, alpha, iterations : ALS's hyperparameters.
    rp3_alpha, rp3_beta : RP3beta's.
    als_weight, rp3_weight : float
        Weights of the standardized ALS and RP3beta scores (EASE's is 1).
    random_state : int, RandomState or None
        ALS's seed.

    Attributes
    ----------
    members_ : dict of str to Recommender
        The fitted ``ease``, ``als`` and ``rp3beta``.
    """

    def __init__(
        self,
        l2: float = 350.0,
        factors: int = 128,
        regularization: float = 30.0,
        alpha: float = 3.0,
        iterations: int = 20,
        rp3_alpha: float = 1.0,
        rp3_beta: float = 0.5,
        als_weight: float = 1.0,
        rp3_weight: float = 0.5,
        random_state=None,
    ):
        self.l2 = l2
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.rp3_alpha = rp3_alpha
        self.rp3_beta = rp3_beta
        self.als_weight = als_weight
        self.rp3_weight = rp3_weight
        self.random_state = random_state

    def _fit(self, user_items: sp.csr_matrix, item_features, user_features, callback) -> None:
        als = ALS(
            factors=self.factors,
            regularization=self.regularization,
            alpha=self.alpha,
            iterations=self.iterations,
            num_threads=1,
            random_state=self.random_state,
        )
        self.members_ = {
            "ease": EASE(l2=self.l2).fit(user_items),
            "als": als.fit(user_items),
            "rp3beta": RP3beta(alpha=self.rp3_alpha, beta=self.rp3_beta).fit(user_items),
        }

    def _score(self, user_idx: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        weights = {"ease": 1.0, "als": self.als_weight, "rp3beta": self.rp3_weight}
        total = np.zeros((len(user_idx), user_items.shape[1]))
        for name, model in self.members_.items():
            total += weights[name] * standardize_rows(model.score(user_idx, user_items))
        return total

    def _item_vectors(self) -> np.ndarray:
        return self.members_["als"].item_factors_


def suggest_rp3beta(trial) -> dict:
    """Search space of ``RP3beta``; ``trial`` is an ``optuna.Trial``."""
    return {
        "alpha": trial.suggest_float("alpha", 0.3, 1.5),
        "beta": trial.suggest_float("beta", 0.0, 1.0),
    }


def suggest_blend(trial) -> dict:
    """Search space of ``Blend``: members near their own optima, and the two weights."""
    return {
        "l2": trial.suggest_float("l2", 100.0, 1000.0, log=True),
        "factors": trial.suggest_int("factors", 64, 256, log=True),
        "regularization": trial.suggest_float("regularization", 5.0, 60.0, log=True),
        "alpha": trial.suggest_float("alpha", 1.0, 10.0, log=True),
        "iterations": trial.suggest_int("iterations", 10, 30),
        "rp3_alpha": trial.suggest_float("rp3_alpha", 0.5, 1.2),
        "rp3_beta": trial.suggest_float("rp3_beta", 0.2, 0.8),
        "als_weight": trial.suggest_float("als_weight", 0.0, 4.0),
        "rp3_weight": trial.suggest_float("rp3_weight", 0.0, 1.0),
    }
