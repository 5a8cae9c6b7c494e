"""Content-based recommender: user profiles in item-feature space, cosine ranking.

A user's profile is the weighted mean of the feature vectors (TF-IDF profiles, see
``workbench.features.text``) of the items they consumed; the weights are the confidences in
``user_items``, which ``interaction_weights`` makes rating- and recency-weighted. Items are
ranked by the cosine of their profile with the user's, so an item nobody has consumed yet
ranks as well as any other: content-based filtering has no cold-start problem for items.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.preprocessing import normalize
from sklearn.utils.validation import check_is_fitted

from workbench.features.text import ItemProfiles, _heaviest
from workbench.models.base import Recommender, check_user_items
from workbench.models.hybrid import standardize_rows

log = logging.getLogger(__name__)


def interaction_weights(
    events: pd.DataFrame,
    half_life_days: float | None = 90.0,
    rating_column: str = "value",
    reference_time: pd.Timestamp | None = None,
) -> np.ndarray:
    """Weight of each event for a user profile: its rating share times a recency decay.

    ``weight = rating / max_rating * 0.5 ** (age_days / half_life_days)``, where a missing
    rating (a view, a click) counts as ``max_rating`` and ``age_days`` is measured back from
    ``reference_time`` (the latest event by default).

    Parameters
    ----------
    events : DataFrame
        The contract ``events`` table (``timestamp``, optionally ``rating_column``).
    half_life_days : float, optional
        Age at which an event counts half; no decay when None.
    rating_column : str
    reference_time : Timestamp, optional

    Returns
    -------
    ndarray of shape (n_events,), in (0, 1]
    """
    weights = np.ones(len(events))
    if rating_column in events:
        ratings = pd.to_numeric(events[rating_column], errors="coerce").to_numpy(float)
        top = np.nanmax(ratings) if np.isfinite(ratings).any() else np.nan
        if np.isfinite(top) and top > 0:
            weights = np.where(np.isfinite(ratings), np.clip(ratings / top, 0.0, 1.0), 1.0)
    if half_life_days is not None and "timestamp" in events and len(events):
        stamps = pd.to_datetime(events["timestamp"], utc=True)
        reference = reference_time if reference_time is not None else stamps.max()
        age_days = ((reference - stamps).dt.total_seconds() / 86_400.0).clip(lower=0.0)
        weights = weights * np.power(0.5, age_days.to_numpy(float) / half_life_days)
    return np.maximum(weights, 1e-6)


def _as_feature_matrix(item_features) -> tuple[sp.csr_matrix, np.ndarray | None]:
    """Rows L2-normalized as CSR, with the column terms when ``item_features`` has them."""
    if item_features is None:
        raise ValueError("item_features is required: fit(user_items, item_features=...)")
    if isinstance(item_features, ItemProfiles):
        return normalize(item_features.matrix).tocsr(), item_features.terms
    return normalize(sp.csr_matrix(item_features, dtype=np.float32)).tocsr(), None


class ContentRecommender(Recommender):
    """Rank items by the cosine of their features with the user's profile.

    Parameters
    ----------
    use_confidence : bool, default=True
        Weight consumed items by their confidence in ``user_items`` (ratings, recency; see
        ``interaction_weights``); every consumed item counts 1 when False.
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

    def __init__(self, use_confidence: bool = True, popularity_weight: float = 0.0):
        self.use_confidence = use_confidence
        self.popularity_weight = popularity_weight

    def fit(self, user_items, y=None, item_features=None, callback: Callable | None = None):
        """Learn from ``user_items`` (CSR of shape (n_users, n_items)) and item features.

        Parameters
        ----------
        user_items : csr_matrix of shape (n_users, n_items)
        y : ignored
        item_features : ItemProfiles, sparse or ndarray of shape (n_items, n_features)
        callback : ignored (closed form)
        """
        features, terms = _as_feature_matrix(item_features)
        if features.shape[0] != user_items.shape[1]:
            raise ValueError(
                f"item_features has {features.shape[0]} rows for {user_items.shape[1]} items"
            )
        if not 0.0 <= self.popularity_weight <= 1.0:
            raise ValueError(f"popularity_weight must be in [0, 1], got {self.popularity_weight}")
        self.item_features_, self.terms_ = features, terms
        return super().fit(user_items)

    def _fit(self, user_items: sp.csr_matrix, callback: Callable | None) -> None:
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
        return _heaviest(product, self.terms_, n)

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
    """Optuna search space of ``ContentRecommender``."""
    return {
        "use_confidence": trial.suggest_categorical("use_confidence", [True, False]),
        "popularity_weight": trial.suggest_float("popularity_weight", 0.0, 1.0),
    }
