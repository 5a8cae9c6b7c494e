"""Train/test splits of an interaction log, and a validation split carved from training.

Every function is pure: it takes a DataFrame with ``user_id``, ``item_id`` and (where time
matters) ``timestamp`` columns and returns ``(train, test)`` DataFrames whose rows partition
the input (no row in both, none lost). Random splits are reproducible by ``seed``.

``stratified_split`` reproduces, row for row, Microsoft Recommenders 1.2.1 (its splitter since
July 2022), ``python_stratified_split(ratio=0.75, min_rating=1, filter_by="item", seed=42)``:
the legacy NumPy generator seeded with ``seed`` draws one uniform number per row in input order;
within each item (or user) the rows are ordered by that number and ranked ``1..n``; rows ranked
at or below ``round(ratio * n)`` (round half to even, as Python's ``round``) go to training, the
others to test. On MovieLens 100K by item that is train 75,066 / test 24,934 (every test item
also in training); by user 74,992 / 25,008.

``prepare_splits`` turns an outer split and validation folds carved from its training part into
users x items matrices that share one pair of id maps (:class:`SplitMatrices`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from workbench.data.interactions import IdMap

__all__ = [
    "SplitMatrices",
    "chronological_split",
    "leave_last_out",
    "prepare_splits",
    "random_split",
    "stratified_split",
    "validation_split",
]

log = logging.getLogger(__name__)

#: Splitters that draw at random, so repeated validation folds differ by seed.
RANDOM_SPLITS = ("stratified", "random")

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
    """Rank rows within each group by ``order``; ``rank <= round(ratio * group size)`` trains.

    ``np.round`` rounds half to even, like Python's ``round`` in the reference (a group of 2
    keeps 2 rows in training at ratio 0.75, a group of 6 keeps 4).

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
    rank = grouped.cumcount().to_numpy() + 1
    n_train = np.round(ratio * grouped["row"].transform("size").to_numpy())
    in_train = np.zeros(len(events), dtype=bool)
    in_train[frame["row"].to_numpy()] = rank <= n_train
    return events[in_train], events[~in_train]


def stratified_split(
    events: pd.DataFrame,
    ratio: float = 0.75,
    filter_by: str = "item",
    min_rating: int = 1,
    seed: int = 42,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-item (or per-user) stratified random split: Microsoft Recommenders 1.2.1, exactly.

    Each group of ``n`` rows keeps its ``round(ratio * n)`` rows with the smallest draws in
    training (half to even), so an item rated once or twice stays in training.

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


@dataclass(frozen=True)
class SplitMatrices:
    """Users x items matrices of one experiment, all indexed by the same maps.

    Attributes
    ----------
    train, test : csr_matrix of shape (n_users, n_items)
        The outer split.
    fit, valid : csr_matrix of shape (n_users, n_items)
        A partition of ``train``: tuning fits on ``fit`` and scores on ``valid``.
    users, items : IdMap
    extra_folds : list of (csr_matrix, csr_matrix)
        More ``(fit, valid)`` partitions of ``train``, each drawn with its own seed.
    """

    train: Any
    test: Any
    fit: Any
    valid: Any
    users: IdMap
    items: IdMap
    extra_folds: list = field(default_factory=list)

    @property
    def folds(self) -> list:
        """Every validation fold ``(fit, valid)``, the first one first."""
        return [(self.fit, self.valid), *self.extra_folds]


def _integer_codes(pairs: pd.DataFrame) -> tuple[pd.DataFrame, IdMap, IdMap]:
    """``pairs`` with ``user_id`` and ``item_id`` replaced by their integer indices.

    Users are numbered in order of first appearance, items in the order of their ids as
    text (the maps :func:`~workbench.data.interactions.build_interactions` would build), but
    each id is converted to text once per distinct value, not once per row and split.
    """
    user_codes, user_values = pd.factorize(pairs["user_id"])
    item_codes, item_values = pd.factorize(pairs["item_id"])
    item_names = np.asarray(item_values).astype(str).astype(object)
    order = np.argsort(item_names, kind="stable")
    position = np.empty(len(order), dtype=np.int64)
    position[order] = np.arange(len(order))
    users = IdMap(np.asarray(user_values).astype(str).astype(object))
    coded = pairs.assign(user_id=user_codes, item_id=position[item_codes])
    return coded, users, IdMap(item_names[order])


def _binary_matrix(coded: pd.DataFrame, n_users: int, n_items: int) -> sp.csr_matrix:
    """csr_matrix of shape (n_users, n_items): 1 where ``coded`` has a (user, item) row."""
    rows, cols = coded["user_id"].to_numpy(), coded["item_id"].to_numpy()
    matrix = sp.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n_users, n_items)
    )
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix


def prepare_splits(
    pairs: pd.DataFrame,
    method: str = "stratified",
    ratio: float = 0.75,
    valid_ratio: float = 0.75,
    seed: int = 42,
    n_folds: int = 1,
    **split_kwargs,
) -> SplitMatrices:
    """Outer split of ``pairs``, then a validation split of its training part.

    Parameters
    ----------
    pairs : DataFrame
        Unique user-item pairs (``user_id``, ``item_id``, ``timestamp``).
    method : {"stratified", "random", "chronological", "leave_last_out"}
        Splitter of this module for both splits.
    ratio : float
        Training share of the outer split.
    valid_ratio : float
        Share of the training part kept for fitting during tuning.
    seed : int
        Seed of the outer split; validation fold ``f`` uses ``seed + 1 + f``.
    n_folds : int
        Validation splits of the training part (repeated random splits, not a partition);
        tuning averages over them. Deterministic splitters give one fold.
    **split_kwargs
        Passed to both splitters (``filter_by``, ``n``).

    Returns
    -------
    SplitMatrices
        Binary matrices over every user and item of ``pairs`` (items only in test are
        columns without training data, as in the reference protocol).
    """
    coded, users, items = _integer_codes(pairs)
    train, test = validation_split(coded, method, ratio, seed, **split_kwargs)

    def matrix(part: pd.DataFrame) -> sp.csr_matrix:
        return _binary_matrix(part, len(users), len(items))

    seeds = range(seed + 1, seed + 1 + (n_folds if method in RANDOM_SPLITS else 1))
    folds = [
        tuple(map(matrix, validation_split(train, method, valid_ratio, s, **split_kwargs)))
        for s in seeds
    ]
    log.info(
        "split %d pairs (%d users, %d items): train %d, test %d; %d validation fold(s)",
        len(pairs),
        len(users),
        len(items),
        len(train),
        len(test),
        len(folds),
    )
    (fit, valid), *extra = folds
    return SplitMatrices(matrix(train), matrix(test), fit, valid, users, items, extra)
