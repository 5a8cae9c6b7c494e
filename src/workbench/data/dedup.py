"""Deduplication of rows: repeated ids (exact repeats or conflicts) and repeated content.

A row repeating the id of another row with the same content is a duplicate (the first is
kept); one id on rows with different content is a conflict, and every row of it is
quarantined. Rows with different ids but equal content are kept unless a source or
configuration asks for the content rule (``duplicate_events``: equal key columns within a
timestamp tolerance). Which user records are one person is ``linkage``'s job.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from workbench.data.linkage import MERGE_COLUMNS, apply_merges, empty_merges
from workbench.data.standardize import encode, is_arrow_string

__all__ = [
    "MERGE_COLUMNS",
    "apply_merges",
    "duplicate_events",
    "duplicate_ids",
    "empty_merges",
    "key_codes",
    "repeated_ids",
]

log = logging.getLogger(__name__)

DEFAULT_EVENT_KEYS = ("user_id", "item_id", "event_type", "value", "revenue", "session_id")


def key_codes(frame: pd.DataFrame, columns: Iterable[str]) -> np.ndarray:
    """One integer per row, equal for rows equal on every column (nulls equal each other).

    Parameters
    ----------
    frame : DataFrame of shape (n, ...)
    columns : iterable of str

    Returns
    -------
    ndarray of int64, shape (n,)
    """
    combined, bound = np.zeros(len(frame), dtype=np.int64), 1
    for column in columns:
        codes, n_distinct = encode(frame[column])
        if bound * (n_distinct + 1) >= 2**62:  # renumber densely before it could overflow
            combined, uniques = pd.factorize(combined)
            bound = len(uniques)
        combined *= n_distinct + 1
        combined += codes
        combined += 1
        bound *= n_distinct + 1
    return combined.astype(np.int64, copy=False)


def first_occurrences(codes: np.ndarray) -> np.ndarray:
    """True where a code appears for the first time, for codes numbered by first occurrence."""
    if len(codes) == 0:
        return np.zeros(0, dtype=bool)
    running = np.maximum.accumulate(codes)
    return np.concatenate([[True], codes[1:] > running[:-1]])


def duplicate_events(
    events: pd.DataFrame,
    keys: Iterable[str] = DEFAULT_EVENT_KEYS,
    tolerance_seconds: float = 0.0,
) -> np.ndarray:
    """Mark events that repeat an earlier one (same keys, timestamps within the tolerance).

    Parameters
    ----------
    events : DataFrame of shape (n_events, ...)
        Typed events with ``timestamp``; key columns absent from it are ignored.
    keys : iterable of str
        Columns that must be equal (nulls compare equal).
    tolerance_seconds : float
        Largest gap to the previous event of the same key for a repeat to count.

    Returns
    -------
    ndarray of bool, shape (n_events,)
        True for the rows to drop; the first of each run is kept.
    """
    if len(events) == 0:
        return np.zeros(0, dtype=bool)
    group = key_codes(events, [key for key in keys if key in events.columns])
    time = events["timestamp"].to_numpy("datetime64[us]").view(np.int64)
    order = np.lexsort((time, group))
    in_order = group[order]
    repeat = in_order[1:] == in_order[:-1]
    in_order = time[order]
    repeat &= np.diff(in_order) <= int(tolerance_seconds * 1_000_000)
    del in_order
    duplicate = np.zeros(len(events), dtype=bool)
    duplicate[order[1:]] = repeat
    return duplicate


def _sorted_repeats(ids: pd.Series) -> np.ndarray | None:
    """Repeats of a sorted string column, found by comparing neighbours (no hash table).

    Returns None when the column is not sorted, has nulls or is not stored by Arrow.
    """
    if not is_arrow_string(ids) or len(ids) < 2 or ids.hasnans:
        return None
    arrow = pa.array(ids.array)
    before, after = arrow.slice(0, len(arrow) - 1), arrow.slice(1)
    if pc.any(pc.less(after, before)).as_py():
        return None
    repeated = pc.equal(after, before).to_numpy(zero_copy_only=False)
    return np.concatenate([[False], repeated.astype(bool)])


def duplicate_ids(ids: pd.Series) -> np.ndarray:
    """Mark rows whose id appeared on an earlier row (shape (n,)); the first is kept."""
    repeats = _sorted_repeats(ids)
    if repeats is not None:
        return repeats
    codes, n_distinct = encode(ids)
    if n_distinct == len(ids):
        return np.zeros(len(ids), dtype=bool)
    return ~first_occurrences(codes) & (codes >= 0) | _repeated_nulls(codes)


def _repeated_nulls(codes: np.ndarray) -> np.ndarray:
    """Every null after the first counts as a repeat."""
    nulls = codes < 0
    return nulls & (np.cumsum(nulls) > 1)


def repeated_ids(ids: pd.Series, content: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Rows repeating an id: exact repeats, and conflicts (one id, different content).

    Parameters
    ----------
    ids : Series of shape (n,)
        Ids (nulls are never repeats).
    content : DataFrame of shape (n, ...)
        The columns that must be equal for a repeat to be exact.

    Returns
    -------
    duplicate : ndarray of bool, shape (n,)
        Later rows of an id whose rows all hold the same content (the first is kept).
    conflict : ndarray of bool, shape (n,)
        Every row of an id whose rows do not all hold the same content.
    """
    n_rows = len(ids)
    repeats = duplicate_ids(ids) & ids.notna().to_numpy(bool)
    if not repeats.any():
        return np.zeros(n_rows, dtype=bool), np.zeros(n_rows, dtype=bool)
    codes, _ = encode(ids)
    involved = np.isin(codes, np.unique(codes[repeats])) & (codes >= 0)
    rows = np.flatnonzero(involved)
    columns = [c for c in content.columns if c != "categories"]
    signature = key_codes(content.iloc[rows].reset_index(drop=True), columns)
    frame = pd.DataFrame({"id": codes[rows], "content": signature})
    varied = frame.groupby("id")["content"].transform("nunique").to_numpy() > 1
    conflict = np.zeros(n_rows, dtype=bool)
    conflict[rows[varied]] = True
    return repeats & ~conflict, conflict
