"""Content-based recommender: user profiles in item-feature space, cosine ranking.

A user's profile is the weighted mean of the feature vectors (TF-IDF profiles, see
``workbench.features.text``) of the items they consumed; the weights are the confidences in
``user_items``, which ``workbench.data.interactions.interaction_weights`` makes rating- and
recency-weighted. Items are ranked by the cosine of their profile with the user's, so an item
nobody has consumed yet ranks as well as any other: content-based filtering has no cold-start
problem for items.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.preprocessing import normalize
from sklearn.utils.validation import check_is_fitted

from workbench.features.text import ItemProfiles, heaviest_terms
from workbench.models.base import Recommender, check_user_items, standardize_rows

log = logging.getLogger(__name__)


def _as_feature_matrix(item_features) -> tuple[sp.csr_matrix, np.ndarray | None]:
    """Rows L2-normalized as CSR, with the column terms when ``item_features`` has them."""
    if isinstance(item_features, ItemProfiles):
        return normalize(item_features.matrix).tocsr(), item_features.terms
    return normalize(sp.csr_matrix(item_features, dtype=np.float32)).tocsr(), None


class ContentRecommender(Recommender):
    """Rank items by the cosine of their features with the user's profile.

    ``fit`` requires ``item_features``: ``ItemProfiles``, or a sparse matrix or ndarray of
    shape (n_items, n_features); ``user_features`` and ``callback`` are ignored.

    Parameters
    ----------
    use_confidence : bool, default=True
        Weight consumed items by their confidence in ``user_items`` (ratings, recency; see
        ``workbench.data.interactions.interaction_weights``); every consumed item counts 1
        when False.
    popularity_weight : float in [0, 1], default=0.0
        Share of standardized log-popularity in a blend with the standardized cosine, to break
        the many near-ties of sparse profiles in favour of items people actually consume
        (an item without training interactions gets the mean popularity of the others).

    Attributes
    ----------
    item_features_ : csr_matrix of shape (n_items, n_features)
        L2-normalized item profiles.
    terms_ : ndarray of shape (n_features,) or None
        The term of each feature, when fitted with ``ItemProfiles``.
    item_popularity_ : ndarray of shape (n_items,)
        Training interactions per item.
    """

    needs_item_features = True

    def __init__(self, use_confidence: bool = True, popularity_weight: float = 0.0):
        self.use_confidence = use_confidence
        self.popularity_weight = popularity_weight

    def _fit(self, user_items: sp.csr_matrix, item_features, user_features, callback) -> None:
        if not 0.0 <= self.popularity_weight <= 1.0:
            raise ValueError(f"popularity_weight must be in [0, 1], got {self.popularity_weight}")
        self.item_features_, self.terms_ = _as_feature_matrix(item_features)
        self.item_popularity_ = np.diff(user_items.tocsc().indptr).astype(np.float64)

    def user_profiles(self, user_idx, user_items) -> sp.csr_matrix:
        """Unit-norm profiles of users, the weighted mean of their items' features.

        Returns
        -------
        csr_matrix of shape (len(user_idx), n_features)
        """
        check_is_fitted(self, "item_features_")
        weights = check_user_items(user_items)[np.atleast_1d(user_idx)]
        if not self.use_confidence:
            weights.data[:] = 1.0
        return normalize(weights @ self.item_features_).tocsr()

    def _score(self, user_idx: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        profiles = self.user_profiles(user_idx, user_items)
        scores = np.asarray((profiles @ self.item_features_.T).todense(), dtype=np.float64)
        if self.popularity_weight > 0:
            weight = self.popularity_weight
            scores = (1 - weight) * standardize_rows(scores) + weight * self.popularity_prior()
        return scores

    def popularity_prior(self) -> np.ndarray:
        """Standardized log-popularity, shape (1, n_items); unseen items get the mean of the
        seen ones (their popularity is unknown, not zero)."""
        check_is_fitted(self, "item_popularity_")
        log_pop = np.log1p(self.item_popularity_)
        seen = self.item_popularity_ > 0
        if seen.any():
            log_pop[~seen] = log_pop[seen].mean()
        return standardize_rows(log_pop[None, :])

    def _item_vectors(self) -> sp.csr_matrix:
        return self.item_features_

    def matching_terms(self, left: sp.spmatrix, item_idx: int, n: int = 5) -> list[str]:
        """Terms contributing most to the cosine of a profile row ``left`` and an item."""
        check_is_fitted(self, "item_features_")
        if self.terms_ is None:
            return []
        product = sp.csr_matrix(left).multiply(self.item_features_[item_idx]).tocsr()
        return heaviest_terms(product, self.terms_, n)

    def explain_similar(self, item_idx: int, k: int = 10, n_terms: int = 5) -> pd.DataFrame:
        """``similar_items`` with the terms each neighbour shares with ``item_idx``.

        Returns
        -------
        DataFrame with columns ``item_idx``, ``score``, ``terms`` (list of str), k rows
        """
        neighbours, scores = self.similar_items(item_idx, k)
        source = self.item_features_[item_idx]
        terms = [self.matching_terms(source, int(other), n_terms) for other in neighbours]
        return pd.DataFrame({"item_idx": neighbours, "score": scores, "terms": terms})

    def explain_recommendations(
        self, user_idx: int, user_items, k: int = 10, n_terms: int = 5
    ) -> pd.DataFrame:
        """``recommend`` for one user with the terms each item shares with the user's profile.

        Returns
        -------
        DataFrame with columns ``item_idx``, ``score``, ``terms`` (list of str), k rows
        """
        items, scores = self.recommend(int(user_idx), user_items, k=k)
        profile = self.user_profiles(int(user_idx), user_items)
        terms = [self.matching_terms(profile, int(item), n_terms) for item in items]
        return pd.DataFrame({"item_idx": items, "score": scores, "terms": terms})


def suggest(trial) -> dict:
    """Search space of ``ContentRecommender``; ``trial`` is an ``optuna.Trial``."""
    return {
        "use_confidence": trial.suggest_categorical("use_confidence", [True, False]),
        "popularity_weight": trial.suggest_float("popularity_weight", 0.0, 1.0),
    }
