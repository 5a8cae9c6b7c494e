"""Matrix factorization: implicit-feedback ALS and BPR (through ``implicit``), truncated SVD.

``implicit`` works on users x items CSR matrices of confidences and trains on its own thread
pool; BLAS is limited to one thread while it trains, as ``implicit`` recommends.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.decomposition import TruncatedSVD
from sklearn.utils import check_random_state
from threadpoolctl import threadpool_limits

from workbench.models.base import Recommender


class _ImplicitFactorization(Recommender):
    """Shared part of the ``implicit`` wrappers: training loop, factors, scores.

    Subclasses implement ``_make(random_state)`` returning an unfitted ``implicit`` model.
    """

    iterative = True

    def _make(self, random_state: int):  # pragma: no cover - abstract
        raise NotImplementedError

    def _fit(self, user_items: sp.csr_matrix, item_features, user_features, callback) -> None:
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        with threadpool_limits(1, "blas"):
            inner = self._make(seed)

            def on_epoch(epoch: int, *_):
                self.user_factors_ = inner.user_factors
                self.item_factors_ = inner.item_factors
                self._epoch_done(epoch, callback)

            inner.fit(user_items, show_progress=False, callback=on_epoch)
        self.user_factors_ = np.asarray(inner.user_factors)
        self.item_factors_ = np.asarray(inner.item_factors)

    def _score(self, user_idx: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        return self.user_factors_[user_idx] @ self.item_factors_.T

    def _item_vectors(self) -> np.ndarray:
        return self.item_factors_


class ALS(_ImplicitFactorization):
    """Implicit-feedback alternating least squares (Hu, Koren, Volinsky 2008).

    Confidence ``c_ui = 1 + alpha * r_ui``; the training matrix's values are ``r_ui``.

    Parameters
    ----------
    factors : int
    regularization : float
    alpha : float
        Confidence scale of the observed entries.
    iterations : int
    num_threads : int
        ``implicit``'s threads; 0 uses every core.
    random_state : int, RandomState or None

    Attributes
    ----------
    user_factors_ : ndarray of shape (n_users, factors)
    item_factors_ : ndarray of shape (n_items, factors)
    """

    def __init__(
        self,
        factors: int = 64,
        regularization: float = 0.05,
        alpha: float = 10.0,
        iterations: int = 15,
        num_threads: int = 0,
        random_state=None,
    ):
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.num_threads = num_threads
        self.random_state = random_state

    def _make(self, random_state: int):
        from implicit.cpu.als import AlternatingLeastSquares

        return AlternatingLeastSquares(
            factors=self.factors,
            regularization=self.regularization,
            alpha=self.alpha,
            iterations=self.iterations,
            calculate_training_loss=False,
            num_threads=self.num_threads,
            random_state=random_state,
        )


class BPR(_ImplicitFactorization):
    """Bayesian personalized ranking by SGD (Rendle et al. 2009), ``implicit``'s version.

    Its negatives are the items of random interactions, so drawn in proportion to their
    popularity; :class:`workbench.models.bpr.BPR` (the ``bpr`` family) draws them uniformly.

    Parameters
    ----------
    factors : int
    learning_rate : float
    regularization : float
    iterations : int
    num_threads : int
    random_state : int, RandomState or None

    Attributes
    ----------
    user_factors_ : ndarray of shape (n_users, factors + 1)
        Last column is 1 (it multiplies the item bias).
    item_factors_ : ndarray of shape (n_items, factors + 1)
        Last column is the item bias.
    """

    def __init__(
        self,
        factors: int = 64,
        learning_rate: float = 0.05,
        regularization: float = 0.01,
        iterations: int = 100,
        num_threads: int = 0,
        random_state=None,
    ):
        self.factors = factors
        self.learning_rate = learning_rate
        self.regularization = regularization
        self.iterations = iterations
        self.num_threads = num_threads
        self.random_state = random_state

    def _make(self, random_state: int):
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        return BayesianPersonalizedRanking(
            factors=self.factors,
            learning_rate=self.learning_rate,
            regularization=self.regularization,
            iterations=self.iterations,
            num_threads=self.num_threads,
            random_state=random_state,
        )


class PureSVD(Recommender):
    """Truncated SVD of the binarized matrix, users folded in (Cremonesi et al. 2010).

    ``X ~ U S V^T``; ``score(u) = x_u V V^T``, which also scores users unseen in training.

    Parameters
    ----------
    n_components : int
    random_state : int, RandomState or None

    Attributes
    ----------
    item_factors_ : ndarray of shape (n_items, n_components)
        ``V``.
    """

    def __init__(self, n_components: int = 64, random_state=None):
        self.n_components = n_components
        self.random_state = random_state

    def _fit(self, user_items: sp.csr_matrix, item_features, user_features, callback) -> None:
        binary = user_items.copy()
        binary.data[:] = 1.0
        n_components = max(1, min(self.n_components, min(binary.shape) - 1))
        svd = TruncatedSVD(n_components, algorithm="randomized", random_state=self.random_state)
        svd.fit(binary)
        self.item_factors_ = svd.components_.T.astype(np.float32)

    def _score(self, user_idx: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        rows = user_items[user_idx].copy()
        rows.data[:] = 1.0
        return np.asarray(rows @ self.item_factors_) @ self.item_factors_.T

    def _item_vectors(self) -> np.ndarray:
        return self.item_factors_


def suggest_als(trial) -> dict:
    """Search space of ``ALS``; ``trial`` is an ``optuna.Trial``.

    Many factors with strong regularization is the region that validation favours on
    MovieLens 100K (128 factors, regularization 30, alpha 3 in ``../shared/BENCHMARKS.md``).
    """
    return {
        "factors": trial.suggest_int("factors", 32, 256, log=True),
        "regularization": trial.suggest_float("regularization", 0.1, 60.0, log=True),
        "alpha": trial.suggest_float("alpha", 0.5, 20.0, log=True),
        "iterations": trial.suggest_int("iterations", 8, 30),
    }


def suggest_bpr(trial) -> dict:
    """Search space of ``BPR``; ``trial`` is an ``optuna.Trial``."""
    return {
        "factors": trial.suggest_int("factors", 16, 128, log=True),
        "learning_rate": trial.suggest_float("learning_rate", 1e-3, 0.2, log=True),
        "regularization": trial.suggest_float("regularization", 1e-5, 0.1, log=True),
        "iterations": trial.suggest_int("iterations", 10, 150, log=True),
    }


def suggest_svd(trial) -> dict:
    """Search space of ``PureSVD``; ``trial`` is an ``optuna.Trial``."""
    return {"n_components": trial.suggest_int("n_components", 4, 256, log=True)}
