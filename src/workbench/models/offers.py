"""Ranking offers (or content items) by expected value, respecting consent.

:func:`rank_offers` is what the served personalizer calls: for each user and a set of candidate
offers it orders the offers by ``p(convert | user, offer) * value(offer)``. A user without
personalization consent gets the non-personalized ranking instead: every candidate's *mean*
conversion probability over the consenting users times its value, the same list for all of
them, so nothing about that user changes what they see.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def rank_offers(
    probabilities: pd.DataFrame,
    values: pd.Series,
    personalized: pd.Series,
    k: int | None = None,
) -> pd.DataFrame:
    """Candidate offers of each user, best expected value first.

    Parameters
    ----------
    probabilities : DataFrame of shape (n_users, n_offers)
        ``p(convert)`` of each user (index ``user_id``) for each offer (columns: offer ids), in
        [0, 1]. A user-level model gives the same column for all offers; multiply it by the
        user's affinity to each offer's category for an offer-level one.
    values : Series of shape (n_offers,)
        Value of a conversion per offer (price, margin), indexed by offer id; >= 0.
    personalized : Series of shape (n_users,) of bool
        Whether each user (index ``user_id``) allows personalization; users missing from it
        are treated as not allowing it.
    k : int, optional
        Offers kept per user (all when None).

    Returns
    -------
    DataFrame of shape (n_users * k, 5)
        ``user_id``, ``offer_id``, ``rank`` (1 = best), ``expected_value`` and
        ``personalized``, sorted by user (in the order of ``probabilities``) and rank.

    Raises
    ------
    ValueError
        Naming the offers without a value, probabilities outside [0, 1], a negative value or
        ``k < 1``.
    """
    missing = [offer for offer in probabilities.columns if offer not in values.index]
    if missing:
        raise ValueError(f"values: no value for offers {missing[:5]}")
    p = probabilities.to_numpy(dtype=float)
    if p.size and (np.nanmin(p) < 0 or np.nanmax(p) > 1):
        raise ValueError(f"probabilities must lie in [0, 1], got [{np.nanmin(p)}, {np.nanmax(p)}]")
    value = values.reindex(probabilities.columns).to_numpy(dtype=float)
    if np.any(value < 0):
        raise ValueError(f"values must be >= 0, got {values[values < 0].to_dict()}")
    if k is not None and k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    allowed = personalized.reindex(probabilities.index).fillna(False).to_numpy(dtype=bool)
    expected = np.nan_to_num(p) * value
    pooled = p[allowed].mean(axis=0) if allowed.any() else np.nanmean(p, axis=0)
    expected[~allowed] = np.nan_to_num(pooled) * value
    k = expected.shape[1] if k is None else min(k, expected.shape[1])
    order = np.argsort(-expected, axis=1, kind="stable")[:, :k]
    n_users = len(probabilities)
    return pd.DataFrame(
        {
            "user_id": np.repeat(probabilities.index.to_numpy(), k),
            "offer_id": probabilities.columns.to_numpy()[order].ravel(),
            "rank": np.tile(np.arange(1, k + 1), n_users),
            "expected_value": np.take_along_axis(expected, order, axis=1).ravel(),
            "personalized": np.repeat(allowed, k),
        }
    )
