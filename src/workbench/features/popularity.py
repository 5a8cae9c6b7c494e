"""Item popularity and trend: how much an item is used, and whether that is rising."""

from __future__ import annotations

import numpy as np
import pandas as pd


def item_popularity(
    events: pd.DataFrame, as_of: pd.Timestamp, window_days: float = 7
) -> pd.DataFrame:
    """Popularity and trend per item.

    The trend compares the last ``window_days`` before ``as_of`` with the window before it:
    ``trend = log((recent + 1) / (previous + 1))``, positive when an item is rising.

    Parameters
    ----------
    events : DataFrame of shape (n_events, >=4)
        Contract ``events``; events after ``as_of`` are ignored.
    as_of : Timestamp
    window_days : float

    Returns
    -------
    DataFrame of shape (n_items, 7), indexed by ``item_id``
        ``n_events``, ``n_users`` (distinct), ``n_purchases``, ``popularity_rank`` (1 = most
        users), ``recent_events``, ``previous_events`` and ``trend``.
    """
    events = events[events["timestamp"] <= as_of]
    window = pd.Timedelta(days=window_days)
    age = as_of - events["timestamp"]
    grouped = events.assign(
        recent=age < window,
        previous=(age >= window) & (age < 2 * window),
        purchase=events["event_type"] == "purchase",
    ).groupby("item_id", sort=True)
    table = pd.DataFrame(
        {
            "n_events": grouped.size().astype(float),
            "n_users": grouped["user_id"].nunique().astype(float),
            "n_purchases": grouped["purchase"].sum().astype(float),
            "recent_events": grouped["recent"].sum().astype(float),
            "previous_events": grouped["previous"].sum().astype(float),
        }
    )
    table["popularity_rank"] = table["n_users"].rank(ascending=False, method="min")
    table["trend"] = np.log((table["recent_events"] + 1) / (table["previous_events"] + 1))
    table.index.name = "item_id"
    return table
