"""The user feature table: every per-user feature module combined, and the columns it can have.

``build_user_features`` joins the parts that apply to a source: no ``monetary`` without revenue,
no device shares without a ``device`` column, no affinities without item categories.
``feature_columns`` is derived from ``build_user_features`` itself, run on a few probe rows that
have every optional column, so a column added to a feature module is known without a list to
keep; ``FEATURE_PREFIXES`` names the column families whose members depend on the data.
"""

from __future__ import annotations

import functools
import logging
from types import SimpleNamespace

import pandas as pd

from workbench.features.affinity import category_affinity
from workbench.features.context import context
from workbench.features.engagement import abandoned_carts, engagement
from workbench.features.rfm import rfm
from workbench.features.users import demographics

log = logging.getLogger(__name__)

#: The per-user kernels ``build_user_features`` runs on every event (pandas); another engine
#: passes an object with the same three methods (``workbench.engines.spark_features``).
PANDAS_KERNELS = SimpleNamespace(engagement=engagement, rfm=rfm, context=context)

#: Prefixes of the data-dependent column families (one column per event type, category, ...).
FEATURE_PREFIXES = ("n_", "daypart_", "device_", "channel_", "affinity_")


def build_user_features(
    events: pd.DataFrame,
    items: pd.DataFrame,
    users: pd.DataFrame,
    as_of: pd.Timestamp | None = None,
    cart_window_days: float = 7,
    max_categories: int = 30,
    kernels=PANDAS_KERNELS,
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
    kernels : object
        ``engagement(events, as_of)``, ``rfm(events, as_of, transaction_types=, monetary=)``
        and ``context(events, as_of)`` returning tables indexed by ``user_id``: pandas'
        (``PANDAS_KERNELS``) or another engine's.

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
    table = kernels.engagement(events, as_of)
    table = table.join(kernels.rfm(events, as_of, transaction_types=kinds, monetary=has_revenue))
    if (events["event_type"] == "add_to_cart").any():
        carts = abandoned_carts(events, as_of, cart_window_days)
        table["abandoned_carts"] = carts.reindex(table.index).fillna(0.0)
    table = table.join(kernels.context(events, as_of))
    affinity = category_affinity(events, items, max_categories=max_categories)
    if affinity.shape[1]:
        table = table.join(affinity).fillna({column: 0.0 for column in affinity.columns})
        table["top_category"] = affinity.idxmax(axis=1).str.removeprefix("affinity_")
    table = table.join(demographics(users, as_of))
    table = _country_from_events(table, events)
    # rows in order of each user's first event, never of their pseudonyms: clustering and
    # resampling then see the same rows in the same order whatever the pseudonymization key
    table = table.loc[pd.unique(events["user_id"].to_numpy())]
    log.info("user features: %d users x %d columns (as of %s)", *table.shape, as_of)
    return table


def _country_from_events(table: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """Fill ``country`` from each user's most frequent event country when users lack it."""
    if "country" not in events or events["country"].isna().all():
        return table
    mode = most_frequent(events["user_id"], events["country"]).str.strip()
    if "country" in table:
        table["country"] = table["country"].fillna(mode.reindex(table.index))
    else:
        table["country"] = mode.reindex(table.index).astype(object)
    return table


def most_frequent(keys: pd.Series, values: pd.Series) -> pd.Series:
    """Each key's most frequent non-missing value; ties go to the value seen first.

    Vectorized (one group-by on the pairs), so it stays fast with many keys.

    Parameters
    ----------
    keys, values : Series of shape (n_rows,)

    Returns
    -------
    Series of shape (n_keys_with_a_value,), indexed by key (sorted), named like ``values``
    """
    pairs = pd.DataFrame({"key": keys.to_numpy(), "value": values.to_numpy()}).dropna()
    counts = pairs.groupby(["key", "value"], sort=False).size().rename("n").reset_index()
    # pairs in order of first appearance: a stable sort by count keeps that order among ties
    counts = counts.sort_values("n", ascending=False, kind="stable")
    mode = counts.drop_duplicates("key").set_index("key")["value"].sort_index()
    return mode.rename_axis(keys.name).rename(values.name)


@functools.cache
def feature_columns() -> frozenset[str]:
    """Every column ``build_user_features`` produces when a source has every optional part.

    Returns
    -------
    frozenset of str
        The columns of the table built from ``probe_tables()`` (fixed columns, and one member
        of each ``FEATURE_PREFIXES`` family).
    """
    features_log = logging.getLogger("workbench.features")
    level = features_log.level
    features_log.setLevel(logging.WARNING)  # the probe is not worth a log line
    try:
        return frozenset(build_user_features(*probe_tables()).columns)
    finally:
        features_log.setLevel(level)


def is_known_feature(name: str) -> bool:
    """Whether ``name`` is a column ``build_user_features`` produces for some source."""
    return name in feature_columns() or name.startswith(FEATURE_PREFIXES)


def probe_tables() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Two users' contract tables with every optional column a feature module reads.

    Returns
    -------
    (events, items, users) : DataFrames of shape (4, 10), (1, 2), (2, 6)
        A purchase with revenue, a closed abandoned cart, devices, channels, countries, item
        categories, demographics and signup times.
    """
    stamps = ["2026-01-01 09:00", "2026-01-01 09:05", "2026-01-20 18:00", "2026-01-21 20:00"]
    events = pd.DataFrame(
        {
            "user_id": ["a", "a", "b", "b"],
            "item_id": "i",
            "event_type": ["add_to_cart", "view", "purchase", "view"],
            "value": 1.0,
            "revenue": [None, None, 9.5, None],
            "timestamp": pd.to_datetime(stamps, utc=True),
            "session_id": ["s1", "s1", "s2", "s3"],
            "device": "mobile",
            "channel": "direct",
            "country": "GB",
        }
    )
    items = pd.DataFrame({"item_id": ["i"], "categories": [["books"]]})
    users = pd.DataFrame(
        {
            "user_id": ["a", "b"],
            "age": [30, 40],
            "gender": ["F", "M"],
            "occupation": ["writer", "nurse"],
            "country": [None, "FR"],
            "signup_time": pd.to_datetime(["2025-06-01", "2025-07-01"], utc=True),
        }
    )
    return events, items, users
