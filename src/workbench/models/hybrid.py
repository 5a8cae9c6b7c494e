"""Hybrid recommender: collaborative and content scores blended per item by how much is known.

Both components score every item; each row of scores is put on a common scale (rank
percentiles by default, or standard scores) so the two compare. Item ``i`` then scores

    alpha_i * collaborative + (1 - alpha_i) * content,
    alpha_i = (1 - content_weight) * n_i / (n_i + shrinkage),

where ``n_i`` is the item's number of training interactions. A well-known item is ranked
mostly by behaviour, an item nobody has consumed (a cold-start item, ``n_i = 0``) by content
alone, which collaborative models cannot rank at all. ``content_weight`` and ``shrinkage`` act
at scoring time only, so a study can search them on a validation split without refitting
(``workbench.content_based.ScoringObjective``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted

from workbench.models.base import Recommender, check_user_items

log = logging.getLogger(__name__)


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


NORMALIZERS = {"zscore": standardize_rows, "rank": rank_rows}


class HybridRecommender(Recommender):
    """Blend of a collaborative and a content recommender, weighted per item by its support.

    Parameters
    ----------
    collaborative : Recommender
        Any recommender of the contract (EASE, ALS, the two-tower model, ...); cloned in fit.
    content : Recommender
        A recommender fitted with ``item_features`` (``ContentRecommender``); cloned in fit.
    content_weight : float in [0, 1], default=0.2
        Share of content even for the best-known items.
    shrinkage : float >= 0, default=10.0
        Training interactions at which an item's collaborative share reaches half its maximum.
    normalization : {"rank", "zscore"}, default="rank"
        How each component's row of scores is put on a common scale: rank percentiles (the
        best item of either model scores 1, so a cold item that matches the user's taste best
        can compete with the best-known ones) or standard scores.

    Attributes
    ----------
    collaborative_, content_ : Recommender
        The fitted components.
    item_support_ : ndarray of shape (n_items,)
        Training interactions per item.
    """

    def __init__(
        self,
        collaborative: Recommender | None = None,
        content: Recommender | None = None,
        content_weight: float = 0.2,
        shrinkage: float = 10.0,
        normalization: str = "rank",
    ):
        self.collaborative = collaborative
        self.content = content
        self.content_weight = content_weight
        self.shrinkage = shrinkage
        self.normalization = normalization

    def fit(
        self,
        user_items,
        y=None,
        item_features=None,
        callback: Callable | None = None,
        **collaborative_kwargs,
    ):
        """Fit both components on ``user_items``; ``item_features`` goes to the content one.

        Parameters
        ----------
        user_items : csr_matrix of shape (n_users, n_items)
        y : ignored
        item_features : ItemProfiles, sparse or ndarray of shape (n_items, n_features)
        callback : callable, optional
            Passed to the collaborative component (``callback(epoch, model)``).
        **collaborative_kwargs
            More fit arguments of the collaborative component (the two-tower model takes
            ``item_features`` too: pass ``collaborative_item_features=...``).
        """
        if self.collaborative is None or self.content is None:
            raise ValueError("HybridRecommender needs both a collaborative and a content model")
        user_items = check_user_items(user_items)
        kwargs = dict(collaborative_kwargs)
        if "collaborative_item_features" in kwargs:
            kwargs["item_features"] = kwargs.pop("collaborative_item_features")
        self.collaborative_ = clone(self.collaborative).fit(user_items, callback=callback, **kwargs)
        self.content_ = clone(self.content).fit(user_items, item_features=item_features)
        return super().fit(user_items)

    def _fit(self, user_items: sp.csr_matrix, callback: Callable | None) -> None:
        self.item_support_ = np.diff(user_items.tocsc().indptr).astype(np.float64)

    def collaborative_share(self) -> np.ndarray:
        """``alpha_i`` of every item, shape (n_items,)."""
        check_is_fitted(self, "item_support_")
        if not 0.0 <= self.content_weight <= 1.0 or self.shrinkage < 0:
            raise ValueError("content_weight must be in [0, 1] and shrinkage >= 0")
        if self.normalization not in NORMALIZERS:
            raise ValueError(f"normalization must be one of {sorted(NORMALIZERS)}")
        support = self.item_support_
        confidence = support / np.maximum(support + self.shrinkage, 1e-12)
        return (1.0 - self.content_weight) * confidence

    def _score(self, user_idx: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        alpha = self.collaborative_share()[None, :]
        normalize = NORMALIZERS[self.normalization]
        collaborative = normalize(self.collaborative_._score(user_idx, user_items))
        content = normalize(self.content_._score(user_idx, user_items))
        return alpha * collaborative + (1.0 - alpha) * content

    def _item_vectors(self):
        return self.content_._item_vectors()


def suggest(trial) -> dict:
    """Optuna search space of the blend (scoring-time parameters only)."""
    return {
        "content_weight": trial.suggest_float("content_weight", 0.0, 1.0),
        "shrinkage": trial.suggest_float("shrinkage", 0.1, 1000.0, log=True),
        "normalization": trial.suggest_categorical("normalization", ["rank", "zscore"]),
    }
