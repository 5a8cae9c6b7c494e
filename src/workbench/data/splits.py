"""Train/test splits of an interaction log, and a validation split carved from training.

Every function is pure: it takes a DataFrame with ``user_id``, ``item_id`` and (where time
matters) ``timestamp`` columns and returns ``(train, test)`` DataFrames whose rows partition
the input (no row in both, none lost). Random splits are reproducible by ``seed``.

``stratified_split`` reproduces the protocol of the Microsoft Recommenders benchmark,
``python_stratified_split(ratio=0.75, min_rating=1, filter_by="item", seed=42)``: the legacy
NumPy generator seeded with ``seed`` draws one uniform number per row in input order; within each
item (or user) the rows are ordered by that number and ranked ``r = position / group size``;
rows with ``r <= ratio`` go to training, the others to test.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "chronological_split",
    "leave_last_out",
    "random_split",
    "stratified_split",
    "validation_split",
]

_GROUP_COLUMN = {"item": "item_id", "user": "user_id"}


def _check(events: pd.DataFrame, columns: tuple[str, ...]) -> None:
    missing = [column for column in columns if column not in events.columns]
    if missing:
        raise ValueError(f"events lack column(s) {missing}; have {list(events.columns)}")


def _check_ratio(ratio: float) -> None:
    if not 0.0 < ratio < 1.0:
        raise ValueError(f"ratio must be strictly between 0 and 1, got {ratio}")


def _split_by_rank(
    events: pd.DataFrame, group_column: str, order: np.ndarray, ratio: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rank rows within each group by ``order``; ``rank / group size <= ratio`` is training.

    Parameters
    ----------
    events : DataFrame of shape (n_rows, n_columns)
    group_column : str
    order : ndarray of shape (n_rows,)
        Sort key within each group (random draws or timestamps).
    ratio : float
    """
    frame = pd.DataFrame(
        {"group": events[group_column].to_numpy(), "order": order, "row": np.arange(len(events))}
    )
    frame = frame.sort_values(["group", "order", "row"], kind="stable")
    grouped = frame.groupby("group", sort=False)
    rank = (grouped.cumcount().to_numpy() + 1) / grouped["row"].transform("size").to_numpy()
    in_train = np.zeros(len(events), dtype=bool)
    in_train[frame["row"].to_numpy()] = rank <= ratio
    return events[in_train], events[~in_train]


def stratified_split(
    events: pd.DataFrame,
    ratio: float = 0.75,
    filter_by: str = "item",
    min_rating: int = 1,
    seed: int = 42,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-item (or per-user) stratified random split: the Microsoft Recommenders protocol.

    Parameters
    ----------
    events : DataFrame of shape (n_rows, n_columns)
        With ``user_id`` and ``item_id``.
    ratio : float
        Share of each group's rows that goes to training.
    filter_by : {"item", "user"}
        The column whose groups are split.
    min_rating : int
        Groups with fewer rows are dropped before splitting.
    seed : int
        Seeds ``numpy.random.RandomState``, which draws one uniform number per row.

    Returns
    -------
    train, test : DataFrame
    """
    _check(events, ("user_id", "item_id"))
    _check_ratio(ratio)
    if filter_by not in _GROUP_COLUMN:
        raise ValueError(f"filter_by must be 'item' or 'user', got {filter_by!r}")
    if min_rating < 1:
        raise ValueError(f"min_rating must be >= 1, got {min_rating}")
    column = _GROUP_COLUMN[filter_by]
    if min_rating > 1:
        sizes = events.groupby(column)[column].transform("size")
        events = events[sizes.to_numpy() >= min_rating]
    draws = np.random.RandomState(seed).rand(len(events))
    return _split_by_rank(events, column, draws, ratio)


def random_split(
    events: pd.DataFrame, ratio: float = 0.8, seed: int = 42
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-user random split: each user keeps ``ratio`` of their rows in training.

    Parameters
    ----------
    events : DataFrame of shape (n_rows, n_columns)
    ratio : float
    seed : int

    Returns
    -------
    train, test : DataFrame
    """
    return stratified_split(events, ratio=ratio, filter_by="user", seed=seed)


def chronological_split(
    events: pd.DataFrame, ratio: float = 0.8
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Global time split: the earliest ``ratio`` of rows train, the later ones test.

    Rows sharing the cut-off timestamp all go to training, so no test row is older than a
    training row.

    Parameters
    ----------
    events : DataFrame of shape (n_rows, n_columns)
        With a ``timestamp`` column.
    ratio : float

    Returns
    -------
    train, test : DataFrame
    """
    _check(events, ("user_id", "item_id", "timestamp"))
    _check_ratio(ratio)
    if events.empty:
        return events, events
    times = events["timestamp"]
    cutoff = times.sort_values(kind="stable").iloc[max(int(np.ceil(ratio * len(events))) - 1, 0)]
    in_train = (times <= cutoff).to_numpy()
    return events[in_train], events[~in_train]


def leave_last_out(
    events: pd.DataFrame, n: int = 1, min_train: int = 1
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Leave-last-``n``-out: each user's ``n`` latest rows are test, the rest training.

    Users with fewer than ``n + min_train`` rows keep all of them in training. Ties in time
    are broken by input order.

    Parameters
    ----------
    events : DataFrame of shape (n_rows, n_columns)
        With ``user_id`` and ``timestamp``.
    n : int
    min_train : int

    Returns
    -------
    train, test : DataFrame
    """
    _check(events, ("user_id", "item_id", "timestamp"))
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    frame = pd.DataFrame(
        {"user": events["user_id"].to_numpy(), "time": events["timestamp"].to_numpy()}
    )
    frame["row"] = np.arange(len(frame))
    frame = frame.sort_values(["user", "time", "row"], kind="stable")
    grouped = frame.groupby("user", sort=False)
    from_end = grouped.cumcount(ascending=False).to_numpy()
    size = grouped["row"].transform("size").to_numpy()
    in_test = np.zeros(len(events), dtype=bool)
    in_test[frame["row"].to_numpy()] = (from_end < n) & (size >= n + min_train)
    return events[~in_test], events[in_test]


def validation_split(
    train: pd.DataFrame, method: str = "stratified", ratio: float = 0.75, seed: int = 42, **kwargs
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Carve a validation split out of the training part only (never the test split).

    Parameters
    ----------
    train : DataFrame
        The training part of an outer split.
    method : {"stratified", "random", "chronological", "leave_last_out"}
        The splitter applied to ``train``.
    ratio : float
        Share of ``train`` kept for fitting (ignored by ``leave_last_out``).
    seed : int
        Seed of the random splitters; use a different one than the outer split's.
    **kwargs
        Passed to the splitter (``filter_by``, ``n``...).

    Returns
    -------
    fit, valid : DataFrame
        A partition of ``train``.
    """
    if method == "stratified":
        return stratified_split(train, ratio=ratio, seed=seed, **kwargs)
    if method == "random":
        return random_split(train, ratio=ratio, seed=seed)
    if method == "chronological":
        return chronological_split(train, ratio=ratio)
    if method == "leave_last_out":
        return leave_last_out(train, **kwargs)
    raise ValueError(f"unknown split method {method!r}")
