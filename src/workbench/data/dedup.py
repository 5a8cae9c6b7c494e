"""Deduplication: exact duplicate events, and fuzzy resolution of users who are one person.

Exact duplicates share every key column and fall within a timestamp tolerance of the event
before them in the same key; the first is kept. Fuzzy resolution compares user records
(names, e-mails, addresses) with ``rapidfuzz.process.cdist`` inside blocks of candidates,
joins pairs scoring above a threshold into groups (connected components), and maps every
member of a group to one canonical id; each merge is recorded for audit.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp
from rapidfuzz import fuzz, process, utils
from scipy.sparse.csgraph import connected_components

from workbench.data.standardize import encode, is_arrow_string, map_distinct

log = logging.getLogger(__name__)

DEFAULT_EVENT_KEYS = ("user_id", "item_id", "event_type", "value", "revenue", "session_id")
FIELD_SCORERS = {
    "name": fuzz.token_sort_ratio,
    "email": fuzz.ratio,
    "address": fuzz.token_set_ratio,
    "phone": fuzz.ratio,
}
MERGE_COLUMNS = ("user_id", "merged_into", "score", "fields")


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


def _normalized(values: pd.Series) -> list[str]:
    """Lower case, single-spaced strings; nulls become empty strings."""
    clean = map_distinct(values, lambda v: " ".join(v.lower().split()))
    return clean.fillna("").astype(str).tolist()


def default_block_key(users: pd.DataFrame, fields: list[str]) -> pd.Series:
    """Blocking key: the first three letters of the e-mail, else of the sorted name tokens."""
    key = pd.Series("", index=users.index, dtype="str")
    if "name" in fields:
        sorted_name = map_distinct(users["name"], lambda v: "".join(sorted(v.lower().split())))
        key = sorted_name.fillna("").str.slice(0, 3)
    if "email" in fields:
        email = users["email"].astype("str").str.lower().str.strip().str.slice(0, 3)
        key = email.where(email.fillna("").str.len() > 0, key)
    return key.fillna("")


def _block_scores(block: pd.DataFrame, fields: list[str], weights: Mapping[str, float]):
    """Weighted mean similarity (0-100) of all pairs in a block: (n, n) float32."""
    total = np.zeros((len(block), len(block)), dtype=np.float32)
    weight_sum = np.zeros_like(total)
    for field in fields:
        values = _normalized(block[field])
        present = np.array([bool(v) for v in values])
        scorer = FIELD_SCORERS.get(field, fuzz.ratio)
        scores = process.cdist(values, values, scorer=scorer, processor=utils.default_process)
        both = np.outer(present, present).astype(np.float32) * float(weights.get(field, 1.0))
        total += scores.astype(np.float32) * both
        weight_sum += both
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(weight_sum > 0, total / weight_sum, 0.0)


def _candidate_pairs(users, fields, threshold, block_key, max_block, weights):
    """Pairs (i, j, score) with i < j in the same block scoring at least ``threshold``."""
    rows, cols, scores = [], [], []
    for _, members in users.groupby(block_key, sort=False).indices.items():
        if len(members) < 2:
            continue
        if len(members) > max_block:
            log.warning(
                "block of %d users exceeds %d: only its first part compared",
                len(members),
                max_block,
            )
            members = members[:max_block]
        matrix = _block_scores(users.iloc[members], fields, weights)
        i, j = np.nonzero(np.triu(matrix >= threshold, k=1))
        rows.append(members[i])
        cols.append(members[j])
        scores.append(matrix[i, j])
    if not rows:
        return np.zeros(0, int), np.zeros(0, int), np.zeros(0, np.float32)
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(scores)


def resolve_users(
    users: pd.DataFrame,
    fields: Iterable[str] = ("name", "email", "address"),
    threshold: float = 90.0,
    block_key: pd.Series | None = None,
    max_block: int = 5000,
    weights: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Find user records that are one person and choose a canonical id for each group.

    Parameters
    ----------
    users : DataFrame of shape (n_users, ...)
        ``user_id`` (unique) and some of ``fields``.
    fields : iterable of str
        Identity columns compared; those absent from ``users`` are skipped.
    threshold : float
        Smallest weighted similarity (0-100) for two records to be merged.
    block_key : Series of shape (n_users,), optional
        Only records sharing a key are compared; ``default_block_key`` when omitted.
    max_block : int
        Largest block compared (memory grows with its square).
    weights : mapping of str to float, optional
        Weight of each field in the mean (1 each by default).

    Returns
    -------
    DataFrame with columns ``MERGE_COLUMNS``
        One row per merged record: its ``user_id``, the ``merged_into`` canonical id (the
        smallest id of its group), the best ``score`` linking it and the ``fields`` compared.
    """
    present = [f for f in fields if f in users.columns]
    if not present or len(users) < 2:
        return empty_merges()
    users = users.reset_index(drop=True)
    key = default_block_key(users, present) if block_key is None else block_key
    i, j, score = _candidate_pairs(
        users, present, threshold, key.to_numpy(), max_block, weights or {}
    )
    graph = sp.coo_matrix((np.ones(len(i)), (i, j)), shape=(len(users), len(users)))
    _, label = connected_components(graph, directed=False)
    ids = users["user_id"].astype(str).to_numpy()
    canonical = pd.Series(ids).groupby(label).transform("min").to_numpy()
    best = pd.concat([pd.Series(score, index=i), pd.Series(score, index=j)]).groupby(level=0).max()
    merged = np.flatnonzero(canonical != ids)
    audit = pd.DataFrame(
        {
            "user_id": ids[merged],
            "merged_into": canonical[merged],
            "score": best.reindex(merged).to_numpy(float),
            "fields": ",".join(present),
        }
    )
    log.info("fuzzy resolution: %d of %d user records merged", len(audit), len(users))
    return audit


def empty_merges() -> pd.DataFrame:
    """An audit of merges with no rows."""
    return pd.DataFrame(
        {c: pd.Series(dtype="float" if c == "score" else "str") for c in MERGE_COLUMNS}
    )


def apply_merges(ids: pd.Series, merges: pd.DataFrame) -> pd.Series:
    """Replace merged user ids by their canonical id (shape (n,)); others unchanged."""
    if merges.empty:
        return ids
    mapping = pd.Series(merges["merged_into"].to_numpy(), index=merges["user_id"].to_numpy())
    return ids.map(mapping).fillna(ids).astype(ids.dtype)
