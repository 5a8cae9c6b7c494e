"""Per-user and per-item features computed from the contract tables.

``build_user_features`` is the one entry point the notebooks call; the modules it combines
(``rfm``, ``engagement``, ``context``, ``affinity``, ``users``) are pure functions that can be
used alone. Sources get the parts that apply: no ``monetary`` without revenue, no device shares
without a ``device`` column, no affinities without item categories.
"""

from __future__ import annotations

import logging

import pandas as pd

from workbench.features.affinity import category_affinity
from workbench.features.context import context
from workbench.features.engagement import abandoned_carts, engagement
from workbench.features.popularity import item_popularity
from workbench.features.rfm import rfm
from workbench.features.users import demographics

log = logging.getLogger(__name__)

__all__ = ["build_user_features", "item_popularity", "is_known_feature"]

#: Every fixed column ``build_user_features`` can produce, whatever the source.
FEATURE_COLUMNS = frozenset(
    {
        "recency_days", "frequency", "monetary", "r_score", "f_score", "m_score", "rfm_score",
        "n_events", "n_sessions", "events_per_session", "days_active", "tenure_days",
        "active_day_share", "days_since_last_event", "abandoned_carts", "weekend_share",
        "top_month_share", "main_device", "main_channel", "top_category", "age", "age_band",
        "gender", "occupation", "country", "account_age_days",
    }
)  # fmt: skip
#: Prefixes of the data-dependent column families (one column per event type, category, ...).
FEATURE_PREFIXES = ("n_", "daypart_", "device_", "channel_", "affinity_")


def is_known_feature(name: str) -> bool:
    """Whether ``name`` is a column ``build_user_features`` produces for some source."""
    return name in FEATURE_COLUMNS or name.startswith(FEATURE_PREFIXES)


def build_user_features(
    events: pd.DataFrame,
    items: pd.DataFrame,
    users: pd.DataFrame,
    as_of: pd.Timestamp | None = None,
    cart_window_days: float = 7,
    max_categories: int = 30,
) -> pd.DataFrame:
    """All user features, one row per user with at least one event up to ``as_of``.

    Parameters
    ----------
    events : DataFrame of shape (n_events, >=7)
        Contract ``events``.
    items : DataFrame of shape (n_items, >=4)
        Contract ``items``.
    users : DataFrame of shape (n_users, >=1)
        Contract ``users``; demographics are joined when present.
    as_of : Timestamp, optional
        Reference time (UTC); later events are ignored. The last event's time when None.
    cart_window_days : float
        Days a cart may wait for its purchase before it counts as abandoned.
    max_categories : int
        Most frequent item categories kept as ``affinity_*`` columns.

    Returns
    -------
    DataFrame of shape (n_active_users, n_features), indexed by ``user_id``
        RFM (transactions are purchases when the source has any, else every event; monetary
        only with revenue), engagement, context, affinities (``affinity_*`` and
        ``top_category``) and demographics. Counts are 0 and RFM columns NaN for users
        without transactions.
    """
    as_of = events["timestamp"].max() if as_of is None else pd.Timestamp(as_of)
    events = events[events["timestamp"] <= as_of]
    sells = bool((events["event_type"] == "purchase").any())
    kinds = ("purchase",) if sells else tuple(events["event_type"].unique())
    has_revenue = sells and bool(events["revenue"].notna().any())
    table = engagement(events, as_of)
    table = table.join(rfm(events, as_of, transaction_types=kinds, monetary=has_revenue))
    if (events["event_type"] == "add_to_cart").any():
        carts = abandoned_carts(events, as_of, cart_window_days)
        table["abandoned_carts"] = carts.reindex(table.index).fillna(0.0)
    table = table.join(context(events, as_of))
    affinity = category_affinity(events, items, max_categories=max_categories)
    if affinity.shape[1]:
        table = table.join(affinity).fillna({column: 0.0 for column in affinity.columns})
        table["top_category"] = affinity.idxmax(axis=1).str.removeprefix("affinity_")
    table = table.join(demographics(users, as_of))
    table = _country_from_events(table, events)
    log.info("user features: %d users x %d columns (as of %s)", *table.shape, as_of)
    return table


def _country_from_events(table: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """Fill ``country`` from each user's most frequent event country when users lack it."""
    if "country" not in events or events["country"].isna().all():
        return table
    known = events.dropna(subset=["country"])
    mode = known.groupby("user_id")["country"].agg(lambda c: c.value_counts().index[0])
    mode = mode.str.strip()
    if "country" in table:
        table["country"] = table["country"].fillna(mode.reindex(table.index))
    else:
        table["country"] = mode.reindex(table.index).astype(object)
    return table
