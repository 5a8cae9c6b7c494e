"""Hybrid recommender: collaborative and content scores blended per item by how much is known.

Both components score every item; each row of scores is put on a common scale (rank
percentiles by default, or standard scores) so the two compare. Item ``i`` then scores

    alpha_i * collaborative + (1 - alpha_i) * content,
    alpha_i = (1 - content_weight) * n_i / (n_i + shrinkage),

where ``n_i`` is the item's number of training interactions. A well-known item is ranked
mostly by behaviour, an item nobody has consumed (a cold-start item, ``n_i = 0``) by content
alone, which collaborative models cannot rank at all. ``content_weight`` and ``shrinkage`` act
at scoring time only, so a study can search them on a validation split without refitting
(``workbench.workflows.content.ScoringObjective``).
"""

from __future__ import annotations

import logging

import numpy as np
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted

from workbench.models.base import Recommender, rank_rows, standardize_rows
from workbench.models.content import ContentRecommender
from workbench.models.neighbors import ItemKNN

log = logging.getLogger(__name__)

NORMALIZERS = {"zscore": standardize_rows, "rank": rank_rows}


class HybridRecommender(Recommender):
    """Blend of a collaborative and a content recommender, weighted per item by its support.

    ``fit`` requires ``item_features`` and passes the side data (``item_features``,
    ``user_features``) to both components, which use what they need: a collaborative model
    ignores it, the two-tower model learns from it. ``callback`` goes to the collaborative
    component.

    Parameters
    ----------
    collaborative : Recommender, default=None
        Any recommender of the contract (EASE, ALS, the two-tower model, ...); cloned in fit.
        ``ItemKNN()`` when None.
    content : Recommender, default=None
        A recommender that learns from ``item_features``; cloned in fit.
        ``ContentRecommender()`` when None.
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

    needs_item_features = True

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

    def _fit(self, user_items: sp.csr_matrix, item_features, user_features, callback) -> None:
        collaborative = ItemKNN() if self.collaborative is None else clone(self.collaborative)
        content = ContentRecommender() if self.content is None else clone(self.content)
        side_data = {"item_features": item_features, "user_features": user_features}
        self.collaborative_ = collaborative.fit(user_items, callback=callback, **side_data)
        self.content_ = content.fit(user_items, **side_data)
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
        collaborative = normalize(self.collaborative_.score(user_idx, user_items))
        content = normalize(self.content_.score(user_idx, user_items))
        return alpha * collaborative + (1.0 - alpha) * content

    def similar_items(self, item_idx: int, k: int = 10):
        """The content component's ``similar_items``: neighbours by item features."""
        check_is_fitted(self, "content_")
        return self.content_.similar_items(item_idx, k)


def suggest(trial) -> dict:
    """Search space of the blend (scoring-time parameters only); ``trial`` is an
    ``optuna.Trial``."""
    return {
        "content_weight": trial.suggest_float("content_weight", 0.0, 1.0),
        "shrinkage": trial.suggest_float("shrinkage", 0.1, 1000.0, log=True),
        "normalization": trial.suggest_categorical("normalization", ["rank", "zscore"]),
    }
