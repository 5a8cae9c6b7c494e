"""Conversion labels without leakage: features up to a cut-off, labels in the horizon after it.

For a cut-off ``T`` and a horizon ``h``, a *snapshot* holds one row per user active up to ``T``:
the user features (:func:`workbench.features.build.build_user_features`) and the repeat-purchase
summary BG/NBD needs (:func:`purchase_summary`), computed from the events up to ``T`` only, and
the labels from the events in ``(T, T + h]``: ``converted`` (at least one purchase) and
``revenue``. The input is cut at ``T`` before any feature is computed, so no feature can read a
later event; ``tests/features/test_labels.py`` corrupts every later event and checks that the
features do not move.

Cut-offs (:func:`rolling_cutoffs`) are nested so that no label window of a part reaches into the
next part's: the test cut-off is the latest one whose window fits in the data, the validation
cut-offs end their windows at or before the test cut-off, and the training cut-offs end theirs at
or before the first validation cut-off.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbench.features.build import build_user_features

log = logging.getLogger(__name__)

DAY = pd.Timedelta(days=1)
#: Label columns of a snapshot; every other column is a feature (or ``cutoff``).
LABELS = ("converted", "revenue")


@dataclass(frozen=True)
class Cutoffs:
    """Cut-off times of the training, validation and test snapshots (UTC), oldest first."""

    train: tuple[pd.Timestamp, ...]
    valid: tuple[pd.Timestamp, ...]
    test: pd.Timestamp
    horizon_days: float

    def part(self, cutoff: pd.Timestamp) -> str:
        """``"train"``, ``"valid"`` or ``"test"``."""
        if cutoff == self.test:
            return "test"
        return "valid" if cutoff in self.valid else "train"

    @property
    def all(self) -> tuple[pd.Timestamp, ...]:
        return (*self.train, *self.valid, self.test)


def rolling_cutoffs(
    end: pd.Timestamp,
    horizon_days: float,
    n_train: int = 2,
    n_valid: int = 1,
    step_days: float | None = None,
    start: pd.Timestamp | None = None,
    min_history_days: float = 1.0,
) -> Cutoffs:
    """Nested rolling cut-offs, the test window ending at ``end``.

    Parameters
    ----------
    end : Timestamp
        The last event's time; the test window is ``(end - h, end]`` with ``end`` rounded up
        to a whole day.
    horizon_days : float
        Label window ``h`` in days.
    n_train, n_valid : int
        Cut-offs of each part, ``step_days`` apart.
    step_days : float, optional
        Days between cut-offs of one part; ``horizon_days / 2`` when None.
    start : Timestamp, optional
        The first event's time: training cut-offs with less than ``min_history_days`` of
        history after it are dropped (short data, smoke runs).
    min_history_days : float

    Returns
    -------
    Cutoffs
    """
    if horizon_days <= 0 or n_train < 1 or n_valid < 1:
        raise ValueError(
            f"horizon_days must be > 0 and n_train, n_valid >= 1, got {horizon_days}, "
            f"{n_train}, {n_valid}"
        )
    horizon, step = horizon_days * DAY, (step_days or horizon_days / 2) * DAY
    test = pd.Timestamp(end).ceil("D") - horizon
    last_valid = test - horizon
    valid = tuple(last_valid - i * step for i in reversed(range(n_valid)))
    last_train = valid[0] - horizon
    train = tuple(last_train - i * step for i in reversed(range(n_train)))
    if start is not None:
        earliest = pd.Timestamp(start) + min_history_days * DAY
        train = tuple(cutoff for cutoff in train if cutoff >= earliest)
        if not train or valid[0] < earliest:
            span = (pd.Timestamp(end) - pd.Timestamp(start)) / DAY
            raise ValueError(
                f"horizon_days={horizon_days:g} is too long for data spanning {span:.1f} days: "
                f"no training cut-off has {min_history_days:g} days of history"
            )
    return Cutoffs(train, valid, test, horizon_days)


def purchase_summary(events: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    """BG/NBD's summary of each buyer's purchases up to ``cutoff`` (days).

    Purchases on the same calendar day count once, as in Fader, Hardie and Lee (2005).

    Returns
    -------
    DataFrame of shape (n_buyers, 3), indexed by ``user_id``
        ``repeat_purchases`` (x: purchase days after the first), ``first_to_last_days`` (t_x)
        and ``purchase_age_days`` (T: first purchase to ``cutoff``).
    """
    bought = events[(events["event_type"] == "purchase") & (events["timestamp"] <= cutoff)]
    days = bought.assign(day=bought["timestamp"].dt.floor("D")).groupby("user_id")["day"]
    first, last = days.min(), days.max()
    table = pd.DataFrame(
        {
            "repeat_purchases": (days.nunique() - 1).astype(float),
            "first_to_last_days": (last - first) / DAY,
            "purchase_age_days": (cutoff - first) / DAY,
        }
    )
    table.index.name = "user_id"
    return table


def history_rates(
    features: pd.DataFrame, history: pd.DataFrame, cutoff: pd.Timestamp
) -> dict[str, pd.Series]:
    """Sessions and purchases per day of the snapshot's history (first event to ``cutoff``).

    Every user of a snapshot was observable for the same ``history_days``, so counts over it
    are rates comparable across cut-offs of different lengths.
    """
    history_days = max((cutoff - history["timestamp"].min()) / DAY, 1.0)
    rates = {"history_days": pd.Series(history_days, index=features.index)}
    rates["session_rate"] = features["n_sessions"] / history_days
    if "frequency" in features:
        rates["purchase_rate"] = features["frequency"].fillna(0.0) / history_days
    return rates


def horizon_labels(events: pd.DataFrame, cutoff: pd.Timestamp, horizon_days: float) -> pd.DataFrame:
    """``converted`` (0/1) and ``revenue`` of each user in ``(cutoff, cutoff + horizon]``.

    Returns
    -------
    DataFrame of shape (n_buyers_in_window, 2), indexed by ``user_id``
        Only users who bought in the window; everyone else is 0.
    """
    window = events[
        (events["timestamp"] > cutoff) & (events["timestamp"] <= cutoff + horizon_days * DAY)
    ]
    bought = window[window["event_type"] == "purchase"]
    revenue = bought.groupby("user_id")["revenue"].sum(min_count=1).fillna(0.0)
    returned = window[window["event_type"] == "return"].groupby("user_id")["revenue"].sum()
    revenue = revenue.sub(returned.abs(), fill_value=0.0).reindex(revenue.index)
    return pd.DataFrame({"converted": 1.0, "revenue": revenue.clip(lower=0.0)})


def snapshot(
    events: pd.DataFrame,
    items: pd.DataFrame,
    users: pd.DataFrame,
    cutoff: pd.Timestamp,
    horizon_days: float,
) -> pd.DataFrame:
    """Features of every user active up to ``cutoff`` and their labels in the horizon.

    Parameters
    ----------
    events, items, users : DataFrame
        Contract tables (events of consenting users, for training).
    cutoff : Timestamp
    horizon_days : float

    Returns
    -------
    DataFrame of shape (n_active_users, n_features + 3), indexed by ``user_id``
        Feature columns (with :func:`purchase_summary` and :func:`history_rates`), then
        ``cutoff``, ``converted`` and ``revenue``.
    """
    cutoff = pd.Timestamp(cutoff)
    history = events[events["timestamp"] <= cutoff]  # the only events features ever see
    features = build_user_features(history, items, users, as_of=cutoff)
    summary = purchase_summary(history, cutoff).reindex(features.index)
    features = features.join(summary.fillna({"repeat_purchases": 0.0}))
    features = features.assign(**history_rates(features, history, cutoff))
    labels = horizon_labels(events, cutoff, horizon_days).reindex(features.index)
    table = features.assign(cutoff=cutoff, **labels.fillna(0.0))
    log.info(
        "snapshot at %s: %d users, %.1f%% convert within %g days",
        cutoff, len(table), 100 * table["converted"].mean(), horizon_days,
    )  # fmt: skip
    return table


def snapshots(
    events: pd.DataFrame, items: pd.DataFrame, users: pd.DataFrame, cutoffs: Cutoffs
) -> dict[str, pd.DataFrame]:
    """Snapshots at every cut-off, stacked per part (``train``, ``valid``, ``test``).

    Returns
    -------
    dict of str to DataFrame
        Each part's snapshots, rows ``(user_id, cutoff)``; the feature columns are the union
        over all snapshots (a count column missing at one cut-off is 0 there).
    """
    frames = {cutoff: snapshot(events, items, users, cutoff, cutoffs.horizon_days)
              for cutoff in cutoffs.all}  # fmt: skip
    columns = list(dict.fromkeys(c for frame in frames.values() for c in frame.columns))
    parts: dict[str, list[pd.DataFrame]] = {"train": [], "valid": [], "test": []}
    for cutoff, frame in frames.items():
        missing = [c for c in columns if c not in frame]
        frame = frame.assign(**{c: 0.0 for c in missing if c.startswith("n_")}).reindex(
            columns=columns
        )
        parts[cutoffs.part(cutoff)].append(frame)
    return {part: pd.concat(frames) for part, frames in parts.items()}


def split_xy(table: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Features, ``converted`` (n_rows,) and ``revenue`` (n_rows,) of a snapshot table."""
    features = table.drop(columns=[*LABELS, "cutoff"])
    return features, table["converted"].to_numpy(float), table["revenue"].to_numpy(float)


def dwell_snapshot(
    events: pd.DataFrame, items: pd.DataFrame, features: pd.DataFrame, cutoff, horizon_days: float
) -> pd.DataFrame:
    """Views in the horizon after ``cutoff`` with what was known at ``cutoff``, and their dwell.

    The engagement target: the dwell time of a view (its ``value`` in seconds, where the
    source records it, as the synthetic site does), regressed on the viewer's features at the
    cut-off and the item's category.

    Parameters
    ----------
    events, items : DataFrame
        Contract tables.
    features : DataFrame
        A snapshot's user features at ``cutoff`` (``snapshot``), indexed by ``user_id``.
    cutoff : Timestamp
    horizon_days : float

    Returns
    -------
    DataFrame of shape (n_views, 5)
        ``user_id``, ``mobile`` (0/1), ``category``, ``affinity`` (the viewer's affinity to
        it at the cut-off; NaN when unknown) and ``log_dwell``; only views of users in
        ``features``.
    """
    window = events[
        (events["timestamp"] > cutoff)
        & (events["timestamp"] <= cutoff + horizon_days * DAY)
        & (events["event_type"] == "view")
        & events["user_id"].isin(features.index)
    ]
    first = items.set_index("item_id")["categories"].map(lambda c: c[0] if len(c) else "none")
    category = window["item_id"].map(first).fillna("none").astype(str)
    affinity = features.filter(like="affinity_")
    column = ("affinity_" + category).to_numpy()
    known = np.isin(column, affinity.columns)
    rows = affinity.index.get_indexer(window["user_id"])
    values = np.full(len(window), np.nan)
    columns = affinity.columns.get_indexer(column[known])
    values[known] = affinity.to_numpy(float)[rows[known], columns]
    return pd.DataFrame(
        {
            "user_id": window["user_id"].to_numpy(),
            "mobile": (window["device"] == "mobile").to_numpy(float),
            "category": category.to_numpy(),
            "affinity": values,
            "log_dwell": np.log(window["value"].to_numpy(float)),
        }
    )
