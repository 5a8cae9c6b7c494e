"""Context habits per user: when (hour of day, weekday) and how (device, channel) they come.

Hours and weekdays are taken in UTC: the contract stores UTC timestamps and has no user time
zone, so a "morning" is a UTC morning.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from workbench.data.interactions import IdMap

DAYPARTS = {"night": (0, 6), "morning": (6, 12), "afternoon": (12, 18), "evening": (18, 24)}
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def slug(value: object) -> str:
    """A column-name-safe lower-case form of ``value`` (``"Sci-Fi"`` -> ``"sci_fi"``)."""
    text = re.sub(r"['’]", "", str(value).strip().lower())
    text = re.sub(r"[^0-9a-z]+", "_", text).strip("_")
    return text or "unknown"


def counts_table(rows: pd.Series, columns: pd.Series) -> pd.DataFrame:
    """``pd.crosstab(rows, columns)`` (same table) by one group-by, many times faster.

    Parameters
    ----------
    rows, columns : Series of shape (n_events,)

    Returns
    -------
    DataFrame of shape (n_rows, n_columns) of int counts, index and columns sorted; pairs with
    a missing value are dropped
    """
    counts = pd.Series(1, index=pd.MultiIndex.from_arrays([rows, columns])).groupby(level=[0, 1])
    return counts.size().unstack(fill_value=0)


def _shares(keys: pd.Series, users: pd.Series, prefix: str) -> pd.DataFrame:
    """Row-normalized counts of ``keys`` per user, columns ``<prefix><slug(key)>``."""
    slugs = {key: slug(key) for key in keys.unique()}
    counts = counts_table(users, keys.map(slugs))
    shares = counts.div(counts.sum(axis=1), axis=0).astype(float)
    shares.columns = [f"{prefix}{column}" for column in shares.columns]
    shares.index.name = "user_id"
    return shares


def _time_profile(events: pd.DataFrame, slots: pd.Series, names: list[str]) -> pd.DataFrame:
    """Share of each user's events in each time slot ``0..len(names)-1``, named ``names``."""
    profile = counts_table(events["user_id"], slots).reindex(
        columns=range(len(names)), fill_value=0
    )
    profile = profile.div(profile.sum(axis=1), axis=0).astype(float)
    profile.columns = names
    profile.index.name = "user_id"
    return profile


def hour_profile(events: pd.DataFrame) -> pd.DataFrame:
    """Share of each user's events in each hour of the day.

    Returns
    -------
    DataFrame of shape (n_users, 24), indexed by ``user_id``, columns ``hour_00..hour_23``
    """
    names = [f"hour_{hour:02d}" for hour in range(24)]
    return _time_profile(events, events["timestamp"].dt.hour, names)


def weekday_profile(events: pd.DataFrame) -> pd.DataFrame:
    """Share of each user's events on each weekday.

    Returns
    -------
    DataFrame of shape (n_users, 7), indexed by ``user_id``, columns ``weekday_mon..weekday_sun``
    """
    names = [f"weekday_{name}" for name in WEEKDAYS]
    return _time_profile(events, events["timestamp"].dt.day_of_week, names)


def context(events: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Daypart, weekend, seasonality, device and channel habits per user.

    Parameters
    ----------
    events : DataFrame of shape (n_events, >=3)
        Contract ``events``; ``device`` and ``channel`` are used when the source has them.
    as_of : Timestamp
        Events after it are ignored.

    Returns
    -------
    DataFrame of shape (n_users, n_columns), indexed by ``user_id``
        ``daypart_<night|morning|afternoon|evening>`` shares, ``weekend_share``,
        ``top_month_share`` (share of events in the user's busiest calendar month),
        ``device_<name>`` and ``channel_<name>`` shares, ``main_device``, ``main_channel``.
    """
    events = events[events["timestamp"] <= as_of]
    hours = hour_profile(events)
    table = pd.DataFrame(index=hours.index)
    for part, (start, stop) in DAYPARTS.items():
        table[f"daypart_{part}"] = hours.iloc[:, start:stop].sum(axis=1)
    table["weekend_share"] = weekday_profile(events)[["weekday_sat", "weekday_sun"]].sum(axis=1)
    months = events["timestamp"].dt.strftime("%Y-%m")
    table["top_month_share"] = _shares(months, events["user_id"], "m").max(axis=1)
    for column in ("device", "channel"):
        if column in events and events[column].notna().any():
            known = events[events[column].notna()]
            shares = _shares(known[column], known["user_id"], f"{column}_")
            table = table.join(shares)
            table[f"main_{column}"] = shares.idxmax(axis=1).str.removeprefix(f"{column}_")
    return table


def user_context_features(
    events: pd.DataFrame, user_items, users: IdMap, items: IdMap
) -> np.ndarray:
    """Standardized context habits of each user (daypart, weekend, device, channel shares).

    Computed only from the events of the pairs in ``user_items`` (the fit part while tuning,
    the training part for the final model), so no held-out interaction leaks into them.

    Parameters
    ----------
    events : DataFrame
        The contract ``events``.
    user_items : csr_matrix of shape (n_users, n_items)
    users, items : IdMap
        The matrix's row and column ids.

    Returns
    -------
    ndarray of shape (n_users, n_features), float32; zeros for users without such events
    """
    rows = users.to_index(events["user_id"], missing=-1)
    cols = items.to_index(events["item_id"], missing=-1)
    keep = (rows >= 0) & (cols >= 0)
    keep[keep] = np.asarray(user_items[rows[keep], cols[keep]]).ravel() != 0
    kept = events[keep]
    table = context(kept, kept["timestamp"].max()).select_dtypes("number")
    table = table.reindex(users.ids).fillna(0.0)
    centred = table - table.mean()
    return (centred / table.std().replace(0.0, 1.0)).fillna(0.0).to_numpy(np.float32)
