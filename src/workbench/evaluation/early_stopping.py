"""Early stopping of iterative recommenders on a validation split, as a fit callback.

``EarlyStopping`` is passed as ``fit(..., callback=...)`` to any iterative model of the
recommender contract. After each epoch it scores the model's top ``k`` for the validation
users (nDCG@k, seen items of the fitting matrix filtered) and raises
``workbench.models.base.StopTraining`` once ``patience`` epochs in a row have not improved on
the best score by more than ``min_delta``. The model then keeps the state of its last epoch;
refit it for ``best_epoch`` epochs to get the best one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

from workbench.evaluation.metrics import ndcg_at_k
from workbench.models.base import StopTraining, check_user_items

log = logging.getLogger(__name__)


class EarlyStopping:
    """Fit callback: validation nDCG@k per epoch, ``StopTraining`` after ``patience`` flat epochs.

    Parameters
    ----------
    fit_user_items : csr_matrix of shape (n_users, n_items)
        The matrix the model is fit on (its items are filtered from the recommendations).
    valid_user_items : csr_matrix of shape (n_users, n_items)
        Held-out interactions; only users with at least one are scored.
    k : int, default=10
    patience : int, default=3
        Epochs without an improvement larger than ``min_delta`` before stopping.
    min_delta : float, default=1e-3
        A gain in nDCG of at most this does not count as an improvement.
    callback : callable, optional
        ``callback(epoch, model)`` called after the score is recorded and before the stopping
        decision (an Optuna pruning report, for instance; it may read ``history``).

    One instance watches one fit.

    Attributes
    ----------
    history : list of float
        Validation nDCG@k after each epoch so far.
    best_epoch : int
        1-based number of epochs of the best score so far (the first of equal scores); 0
        before the first epoch.
    best_score : float
        The best score so far (``-inf`` before the first epoch).
    """

    def __init__(
        self,
        fit_user_items: sp.csr_matrix,
        valid_user_items: sp.csr_matrix,
        k: int = 10,
        patience: int = 3,
        min_delta: float = 1e-3,
        callback: Callable | None = None,
    ):
        fit_user_items = check_user_items(fit_user_items)
        valid_user_items = check_user_items(valid_user_items)
        if fit_user_items.shape != valid_user_items.shape:
            raise ValueError(
                f"fit_user_items {fit_user_items.shape} and valid_user_items "
                f"{valid_user_items.shape} must have the same shape"
            )
        if k < 1 or patience < 1:
            raise ValueError(f"k and patience must be >= 1, got k={k}, patience={patience}")
        self.fit_user_items = fit_user_items
        self.users = np.flatnonzero(np.diff(valid_user_items.indptr))
        if not len(self.users):
            raise ValueError("valid_user_items has no interactions to validate on")
        self.valid_user_items = valid_user_items[self.users]
        self.k, self.patience, self.min_delta, self.callback = k, patience, min_delta, callback
        self.history: list[float] = []
        self._improved_at = 0  # epochs at the last improvement
        self._reference = -np.inf  # the score of that epoch

    @property
    def best_epoch(self) -> int:
        """1-based epoch of the best score so far, 0 before the first epoch."""
        return int(np.argmax(self.history)) + 1 if self.history else 0

    @property
    def best_score(self) -> float:
        """The best score so far, ``-inf`` before the first epoch."""
        return max(self.history) if self.history else -np.inf

    def score(self, model) -> float:
        """nDCG@k of ``model`` on the validation users."""
        recommended, _ = model.recommend(self.users, self.fit_user_items, k=self.k)
        return ndcg_at_k(recommended, self.valid_user_items, self.k)

    def __call__(self, epoch: int, model) -> None:
        """Record the epoch's score; raise ``StopTraining`` after ``patience`` flat epochs."""
        value = self.score(model)
        self.history.append(value)
        if value - self.min_delta > self._reference:
            self._improved_at, self._reference = len(self.history), value
        if self.callback is not None:
            self.callback(epoch, model)
        waited = len(self.history) - self._improved_at
        if waited >= self.patience:
            raise StopTraining(
                f"no nDCG@{self.k} gain above {self.min_delta} for {waited} epochs; "
                f"best {self.best_score:.4f} after {self.best_epoch}"
            )
