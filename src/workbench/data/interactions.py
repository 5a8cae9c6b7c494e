"""Id maps and interaction matrices: external string ids <-> contiguous integer indices.

Models work on contiguous indices (the implicit convention); mapping external ids is the job
of this module, and the maps travel with the fitted model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp


@dataclass(frozen=True)
class IdMap:
    """A bijection between external ids and ``0..n-1``.

    Attributes
    ----------
    ids : ndarray of shape (n,)
        External ids in index order.
    """

    ids: np.ndarray

    @classmethod
    def from_values(cls, values) -> IdMap:
        """A map over the unique values of ``values``, in order of first appearance."""
        return cls(np.asarray(pd.unique(pd.Series(values).astype(str)).tolist(), dtype=object))

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def _lookup(self) -> pd.Index:
        return pd.Index(self.ids)

    def to_index(self, values, missing: int | None = None) -> np.ndarray:
        """Indices of ``values``; unknown values raise ``KeyError`` unless ``missing`` is given."""
        index = self._lookup.get_indexer(pd.Series(values, dtype=object).astype(str))
        if missing is None and (index < 0).any():
            unknown = pd.Series(values)[index < 0].head(5).tolist()
            raise KeyError(f"unknown ids: {unknown}")
        if missing is not None:
            index = np.where(index < 0, missing, index)
        return index

    def to_ids(self, index) -> np.ndarray:
        """External ids at ``index`` (any shape)."""
        return self.ids[np.asarray(index)]


@dataclass(frozen=True)
class Interactions:
    """A users x items matrix with the maps that name its rows and columns.

    Attributes
    ----------
    user_items : csr_matrix of shape (n_users, n_items)
        Confidence of each user-item pair (summed event weights).
    users, items : IdMap
    """

    user_items: sp.csr_matrix
    users: IdMap
    items: IdMap

    @property
    def shape(self) -> tuple[int, int]:
        return self.user_items.shape


def build_interactions(
    events: pd.DataFrame,
    users: IdMap | None = None,
    items: IdMap | None = None,
    weight: str | None = None,
    binary: bool = True,
) -> Interactions:
    """Aggregate events into a CSR users x items matrix.

    Parameters
    ----------
    events : DataFrame
        At least ``user_id`` and ``item_id``; ``weight`` names an optional numeric column.
    users, items : IdMap, optional
        Fixed maps (for a test split that must share the training indices); events whose
        user or item is not in them are dropped. Built from ``events`` when omitted.
    weight : str, optional
        Column summed into each cell; each event counts 1 when omitted.
    binary : bool
        Clip every non-zero cell to 1.

    Returns
    -------
    Interactions
    """
    users = users or IdMap.from_values(events["user_id"])  # first appearance: key-independent
    items = items or IdMap.from_values(np.sort(events["item_id"].astype(str).unique()))
    rows = users.to_index(events["user_id"], missing=-1)
    cols = items.to_index(events["item_id"], missing=-1)
    keep = (rows >= 0) & (cols >= 0)
    data = events[weight].to_numpy(float)[keep] if weight else np.ones(keep.sum())
    matrix = sp.csr_matrix(
        (data, (rows[keep], cols[keep])), shape=(len(users), len(items)), dtype=np.float32
    )
    matrix.sum_duplicates()
    if binary:
        matrix.data[:] = 1.0
    matrix.eliminate_zeros()
    return Interactions(matrix, users, items)


def interaction_pairs(events: pd.DataFrame) -> pd.DataFrame:
    """One row per user-item pair: its number of events and its first timestamp.

    Parameters
    ----------
    events : DataFrame
        The contract's ``events`` (``user_id``, ``item_id``, ``timestamp``).

    Returns
    -------
    DataFrame with columns user_id, item_id, n_events, timestamp
        In order of each pair's first event. Curated events keep their source's order, which
        no pseudonymization key changes, so splits drawn row by row (and id maps in order of
        first appearance) are the same under any key; sorting by user id would not be.
    """
    grouped = events.groupby(["user_id", "item_id"], sort=False, observed=True)
    pairs = grouped.agg(n_events=("item_id", "size"), timestamp=("timestamp", "min"))
    return pairs.reset_index()


def weighted_pairs(events: pd.DataFrame, half_life_days: float | None = None) -> pd.DataFrame:
    """Unique user-item pairs with ``weight``: the largest ``interaction_weights`` of the pair.

    Returns
    -------
    DataFrame with columns user_id, item_id, n_events, timestamp, weight
    """
    pairs = interaction_pairs(events)
    weights = events[["user_id", "item_id"]].assign(
        weight=interaction_weights(events, half_life_days)
    )
    best = weights.groupby(["user_id", "item_id"], observed=True)["weight"].max()
    keys = pd.MultiIndex.from_frame(pairs[["user_id", "item_id"]])
    return pairs.assign(weight=best.reindex(keys).to_numpy())


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
