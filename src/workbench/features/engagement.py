"""Engagement per user: events, sessions, events per session, days active, abandoned carts."""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.features.context import counts_table

SESSION_GAP = pd.Timedelta(minutes=30)


def session_ids(events: pd.DataFrame, gap: pd.Timedelta = SESSION_GAP) -> pd.Series:
    """A session key per event: ``session_id`` when the source has it, else inferred.

    Inferred sessions split a user's events at every pause longer than ``gap``.

    Parameters
    ----------
    events : DataFrame of shape (n_events, >=2)
        With ``user_id``, ``timestamp`` and optionally ``session_id``.
    gap : Timedelta

    Returns
    -------
    Series of shape (n_events,)
        Session keys aligned with ``events``; unique across users.
    """
    if "session_id" in events and events["session_id"].notna().all():
        return events["user_id"].astype(str) + "|" + events["session_id"].astype(str)
    ordered = events.sort_values(["user_id", "timestamp"], kind="stable")
    new_user = ordered["user_id"].ne(ordered["user_id"].shift())
    pause = ordered["timestamp"].diff().gt(gap)
    number = (new_user | pause).cumsum()
    return ("s" + number.astype(str)).reindex(events.index)


def engagement(events: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Activity counts per user.

    Parameters
    ----------
    events : DataFrame of shape (n_events, >=4)
        Contract ``events``; events after ``as_of`` are ignored.
    as_of : Timestamp

    Returns
    -------
    DataFrame of shape (n_users, 7 + n_event_types), indexed by ``user_id``
        ``n_events``, ``n_sessions``, ``events_per_session``, ``days_active`` (distinct UTC
        dates), ``tenure_days`` (first event to ``as_of``), ``days_since_last_event``,
        ``active_day_share`` (days active over tenure) and ``n_<event_type>`` for each event
        type present.
    """
    events = events[events["timestamp"] <= as_of]
    marked = events.assign(session=session_ids(events), day=events["timestamp"].dt.floor("D"))
    grouped = marked.groupby("user_id", sort=True)
    table = pd.DataFrame(
        {
            "n_events": grouped.size().astype(float),
            "n_sessions": grouped["session"].nunique().astype(float),
            "days_active": grouped["day"].nunique().astype(float),
        }
    )
    table["events_per_session"] = table["n_events"] / table["n_sessions"]
    first = grouped["timestamp"].min()
    table["tenure_days"] = (as_of - first).dt.total_seconds() / 86_400.0
    last = grouped["timestamp"].max()
    table["days_since_last_event"] = (as_of - last).dt.total_seconds() / 86_400.0
    table["active_day_share"] = table["days_active"] / np.ceil(table["tenure_days"]).clip(lower=1)
    counts = counts_table(events["user_id"], events["event_type"]).astype(float)
    table = table.join(counts.add_prefix("n_"))
    table.index.name = "user_id"
    return table


def abandoned_carts(events: pd.DataFrame, as_of: pd.Timestamp, window_days: float = 7) -> pd.Series:
    """Carts not followed by a purchase of the same item within ``window_days``, per user.

    Only carts whose window has closed by ``as_of`` count, so a cart filled yesterday is not
    called abandoned yet.

    Parameters
    ----------
    events : DataFrame of shape (n_events, >=4)
        Contract ``events``.
    as_of : Timestamp
    window_days : float

    Returns
    -------
    Series of shape (n_users_with_carts,), indexed by ``user_id``
        Count of abandoned carts (users with closed carts only; others are absent).
    """
    window = pd.Timedelta(days=window_days)
    events = events[events["timestamp"] <= as_of]
    carts = events[
        (events["event_type"] == "add_to_cart") & (events["timestamp"] + window <= as_of)
    ]
    buys = events.loc[events["event_type"] == "purchase", ["user_id", "item_id", "timestamp"]]
    carts = carts[["user_id", "item_id", "timestamp"]].sort_values("timestamp")
    buys = buys.rename(columns={"timestamp": "bought_at"}).sort_values("bought_at")
    matched = pd.merge_asof(
        carts,
        buys,
        left_on="timestamp",
        right_on="bought_at",
        by=["user_id", "item_id"],
        direction="forward",
        tolerance=window,
    )
    abandoned = matched["bought_at"].isna()
    return abandoned.groupby(matched["user_id"]).sum().astype(float).rename("abandoned_carts")
