"""Row verdicts with quarantine, field-level issues, whole-input checks, and reconciliation.

A table is checked by a chain of vectorized checks. Each check flags rows with a reason code
and the column at fault; a row keeps the first reason it gets, so every rejected row has
exactly one. A bad value in an optional attribute (a user's age, an item's price) does not
reject its row: the value becomes null and a field-level issue records the row, column and
issue code (never the value). Rejected rows become quarantine records: the table's contract
columns only, identifiers pseudonymized and every string redacted by the caller, with the
reason, the column, the source file and row.

Problems that make a whole input unusable (empty, a required column missing, a duplicated
column, no header row, the wrong delimiter) raise ``InputError`` naming the file and the
column, quoting no value from the data.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from workbench.data.contract import EVENT_TYPES
from workbench.data.errors import InputError, ReconciliationError
from workbench.data.redaction import holds_personal_data
from workbench.data.standardize import isin

log = logging.getLogger(__name__)

__all__ = [
    "REASONS",
    "FieldIssues",
    "InputError",
    "ReconciliationError",
    "Verdicts",
    "check_input",
    "reconcile",
]

REASONS = (
    "bad_encoding",
    "missing_required",
    "invalid_id",
    "unparseable_type",
    "non_finite",
    "unparseable_timestamp",
    "implausible_timestamp",
    "future_timestamp",
    "out_of_range",
    "conflicting_duplicate",
    "unknown_user",
    "unknown_item",
    "late_event",
)
"""Reason codes, in the order checks run (a row keeps its first reason)."""

ISSUE_COLUMNS = ("table", "row", "column", "issue", "source_file", "user_id")
QUARANTINE_COLUMNS = (
    "table",
    "row",
    "reason",
    "column",
    "value",
    "record",
    "source_file",
    "user_id",
)
PARTS = ("curated", "quarantined", "duplicates", "erased")
REPLACEMENT_CHARACTER = "\ufffd"
DELIMITERS = (",", ";", "\t", "|")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_ .()/#-]{0,60}")
_DATA_LIKE = re.compile(r"[\d.:/+-]+|.*@.*|.*\d{3,}.*")


def source_name(frame: pd.DataFrame, table: str) -> str:
    """The file a raw table came from (``frame.attrs["source_file"]``), else its table name."""
    return str(frame.attrs.get("source_file") or f"<{table} table>")


def describe_columns(columns: Iterable) -> str:
    """Column names fit to quote in a message: names only, never values from a data row.

    A header that is really a data row (a file without a header) would otherwise put that
    row's values, e-mail addresses included, into an error stored in run folders and MLflow.
    """
    names = [str(c) for c in columns]
    safe = [n for n in names if _NAME.fullmatch(n) and not holds_personal_data(n)]
    unsafe = len(names) - len(safe)
    text = ", ".join(repr(n) for n in safe[:20]) + (" ..." if len(safe) > 20 else "")
    if unsafe:
        text += f"{', ' if safe else ''}{unsafe} more that look like values, not names"
    return f"[{text}]"


def _looks_headerless(columns: list[str], expected: Iterable[str]) -> bool:
    """Whether the first line is a data row: no expected name, some names look like values."""
    if any(name in columns for name in expected):
        return False
    return any(_DATA_LIKE.fullmatch(str(name)) for name in columns)


def check_input(
    frame: pd.DataFrame, table: str, required: Iterable[str], known: Iterable[str] = ()
) -> None:
    """Raise ``InputError`` when ``frame`` is unusable as a whole.

    Parameters
    ----------
    frame : DataFrame of shape (n_rows, n_columns)
        A raw table, column names already normalized.
    table : str
        Contract table name, for the message.
    required : iterable of str
        Columns the table must have.
    known : iterable of str
        Every column the contract knows for the table (to recognize a missing header).

    Raises
    ------
    InputError
        Naming the file and the column: duplicated column names, a header that is one column
        holding another delimiter, no header row, a required column absent, no rows.
    """
    source = source_name(frame, table)
    required = list(required)
    columns = [str(c) for c in frame.columns]
    duplicated = sorted({c for c in columns if columns.count(c) > 1})
    if duplicated:
        raise InputError(
            f"{source}: the header names column(s) {describe_columns(duplicated)} more than "
            f"once; rename or remove the repeats"
        )
    if len(columns) == 1 and columns[0]:
        found = [d for d in DELIMITERS if d in columns[0]]
        if found:
            raise InputError(
                f"{source}: wrong delimiter: the header is one column split by {found[0]!r}; "
                f"set the delimiter (data.options.delimiter) to {found[0]!r}"
            )
    if _looks_headerless(columns, [*required, *known]):
        raise InputError(
            f"{source}: line 1 is not a header: it holds values, not column names; table "
            f"{table!r} needs a header row naming {required}"
        )
    missing = [column for column in required if column not in columns]
    if missing:
        raise InputError(
            f"{source}: table {table!r} lacks required column(s) {missing}; found "
            f"{describe_columns(columns)}"
        )
    if frame.empty:
        raise InputError(f"{source}: table {table!r} is empty (no data rows)")


@dataclass
class Verdicts:
    """The first reason (and column at fault) each row of a table was rejected for.

    Attributes
    ----------
    reason : ndarray of int8, shape (n_rows,)
        ``0`` for a row not rejected, else ``1 + REASONS.index(reason)``.
    column : ndarray of object, shape (n_rows,)
        Column at fault, ``None`` for rows not rejected.
    """

    reason: np.ndarray
    column: np.ndarray

    @classmethod
    def empty(cls, n_rows: int) -> Verdicts:
        return cls(np.zeros(n_rows, dtype=np.int8), np.full(n_rows, None, dtype=object))

    def flag(self, mask, reason: str, column: str | None) -> int:
        """Reject the rows of ``mask`` not yet rejected; return how many were newly flagged."""
        new = np.asarray(mask, dtype=bool) & (self.reason == 0)
        count = int(new.sum())
        if count:
            self.reason[new] = REASONS.index(reason) + 1
            self.column[new] = column
        return count

    @property
    def rejected(self) -> np.ndarray:
        """Boolean mask of shape (n_rows,): rows with a reason."""
        return self.reason > 0

    def counts(self) -> dict[str, int]:
        """Rejected rows per reason code."""
        values, counts = np.unique(self.reason[self.reason > 0], return_counts=True)
        return {REASONS[v - 1]: int(c) for v, c in zip(values, counts, strict=True)}


@dataclass
class FieldIssues:
    """Bad values of optional attributes, set to null: (row, column, issue) triples."""

    rows: list[np.ndarray] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    issues: list[str] = field(default_factory=list)

    def add(self, mask: np.ndarray, column: str, issue: str) -> np.ndarray:
        """Record the rows of ``mask``; return ``mask`` (to null the values)."""
        at = np.flatnonzero(mask)
        if len(at):
            self.rows.append(at.astype(np.int64))
            self.columns.append(column)
            self.issues.append(issue)
        return np.asarray(mask, dtype=bool)

    def counts(self) -> dict[str, int]:
        """Values set to null per issue code."""
        totals: dict[str, int] = {}
        for rows, issue in zip(self.rows, self.issues, strict=True):
            totals[issue] = totals.get(issue, 0) + len(rows)
        return totals

    def table(self, name: str, source_file: str, user_ids: pd.Series | None) -> pd.DataFrame:
        """One row per nulled value (``ISSUE_COLUMNS``); ``user_ids`` pseudonymized, by row."""
        if not self.rows:
            return empty_issues()
        rows = np.concatenate(self.rows)
        lengths = [len(r) for r in self.rows]
        users = None if user_ids is None else user_ids.iloc[rows].to_numpy(dtype=object)
        return pd.DataFrame(
            {
                "table": name,
                "row": rows,
                "column": np.repeat(self.columns, lengths),
                "issue": np.repeat(self.issues, lengths),
                "source_file": source_file,
                "user_id": users,
            }
        ).astype({"user_id": "str"})


def empty_issues() -> pd.DataFrame:
    """A field-issues table with no rows."""
    frame = pd.DataFrame({column: pd.Series(dtype="str") for column in ISSUE_COLUMNS})
    return frame.astype({"row": np.int64})


def quarantine_records(
    raw: pd.DataFrame,
    verdicts: Verdicts,
    table: str,
    sanitize: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
    drop: np.ndarray | None = None,
) -> pd.DataFrame:
    """Quarantine records of the rejected rows of ``raw``.

    Parameters
    ----------
    raw : DataFrame of shape (n_rows, n_columns)
        The table as the source delivered it (position ``i`` is row ``i`` of the source).
    verdicts : Verdicts
        Reasons for the rows of ``raw``.
    table : str
    sanitize : callable, optional
        Applied to the rejected rows before they are recorded: keeps the contract columns,
        pseudonymizes identifiers and redacts strings.
    drop : ndarray of bool, shape (n_rows,), optional
        Rows never recorded (those of erased users).

    Returns
    -------
    DataFrame of shape (n_rejected, len(QUARANTINE_COLUMNS))
        ``row`` is the 0-based data row in the source, ``record`` a JSON object of the row.
    """
    chosen = verdicts.rejected if drop is None else verdicts.rejected & ~drop
    rejected = np.flatnonzero(chosen)
    if len(rejected) == 0:
        return empty_quarantine()
    rows = raw.iloc[rejected].reset_index(drop=True)
    rows = sanitize(rows) if sanitize is not None else rows
    columns = verdicts.column[rejected]
    values = np.full(len(rows), None, dtype=object)
    for column in pd.unique(pd.Series(columns, dtype=object).dropna()):
        at = columns == column
        if column in rows:
            values[at] = rows.loc[at, column].astype("str").to_numpy(dtype=object, na_value=None)
    return pd.DataFrame(
        {
            "table": table,
            "row": rejected.astype(np.int64),
            "reason": np.asarray(REASONS, dtype=object)[verdicts.reason[rejected] - 1],
            "column": columns,
            "value": values,
            "record": _json_records(rows),
            "source_file": source_name(raw, table),
            "user_id": rows["user_id"].astype("str") if "user_id" in rows else None,
        }
    ).astype({"table": "str", "reason": "str", "column": "str", "value": "str"})


def _json_records(rows: pd.DataFrame) -> list[str]:
    """One JSON object per row; strings as they are, timestamps in ISO 8601."""
    text = rows.to_json(orient="records", lines=True, date_format="iso", force_ascii=False)
    records = text.rstrip("\n").split("\n")
    return records if len(records) == len(rows) else [json.dumps({})] * len(rows)


def empty_quarantine() -> pd.DataFrame:
    """A quarantine table with no rows."""
    frame = pd.DataFrame({column: pd.Series(dtype="str") for column in QUARANTINE_COLUMNS})
    return frame.astype({"row": np.int64})


def reconcile(counts: dict[str, int], table: str) -> None:
    """Raise unless rows in = curated + quarantined + duplicates + erased for ``table``.

    Parameters
    ----------
    counts : dict of str to int
        Holds ``<table>_in``, ``<table>_curated``, ``<table>_quarantined``,
        ``<table>_duplicates`` and (optionally) ``<table>_erased``.
    table : str

    Raises
    ------
    ReconciliationError
        Naming the table and every count.
    """
    total = sum(counts.get(f"{table}_{part}", 0) for part in PARTS)
    if counts[f"{table}_in"] != total:
        raise ReconciliationError(
            f"{table}: {counts[f'{table}_in']} rows in but {total} accounted for "
            f"(curated + quarantined + duplicates + erased): {counts}"
        )
    log.info(
        "%s: %d in = %d curated + %d quarantined + %d duplicates + %d erased",
        table,
        counts[f"{table}_in"],
        *(counts.get(f"{table}_{part}", 0) for part in PARTS),
    )


def flag_event_ranges(
    verdicts: Verdicts, events: pd.DataFrame, rating_scale: tuple[float, float]
) -> None:
    """Reject events whose type is unknown or whose numbers are out of range.

    Negative quantities and revenues are out of range unless the event is a return; negative
    prices always are; a rating needs a value on the scale.
    """
    event_type = events["event_type"]
    verdicts.flag(~event_type.isin(EVENT_TYPES).to_numpy(bool), "out_of_range", "event_type")
    is_return = event_type.eq("return").fillna(False).to_numpy(bool)
    for column in ("value", "revenue", "unit_price", "price"):
        if column in events:
            negative = events[column].lt(0).fillna(False).to_numpy(bool)
            bad = negative if column in ("unit_price", "price") else negative & ~is_return
            verdicts.flag(bad, "out_of_range", column)
    if "value" in events:
        value = events["value"]
        rating = event_type.eq("rating").fillna(False).to_numpy(bool)
        verdicts.flag(rating & value.isna().to_numpy(bool), "missing_required", "value")
        low, high = rating_scale
        outside = (value.lt(low) | value.gt(high)).fillna(False).to_numpy(bool)
        verdicts.flag(rating & outside, "out_of_range", "value")


def flag_unknown(verdicts: Verdicts, ids: pd.Series, known, reason: str, column: str) -> None:
    """Reject rows whose id is not among ``known`` (skipped when ``known`` is None)."""
    if known is not None:
        verdicts.flag(~isin(ids, known), reason, column)
