"""Row-level validation with quarantine, whole-input checks, and count reconciliation.

A table is checked by a chain of vectorized checks. Each check flags rows with a reason code
and the column at fault; a row keeps the first reason it gets, so every rejected row has
exactly one. Rejected rows become quarantine records holding their original values (a JSON
object, after identifiers are pseudonymized and free text redacted by the caller), the table,
the reason, the column and, when known, the source file and row.

Problems that make a whole input unusable (empty, a required column missing, the wrong
delimiter) raise ``InputError`` naming the file and the column instead.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbench.data.contract import EVENT_TYPES
from workbench.data.standardize import (
    country_codes,
    normalize_categorical,
    normalize_text,
    to_utc,
    trim,
)

log = logging.getLogger(__name__)

REASONS = (
    "bad_encoding",
    "missing_required",
    "unparseable_type",
    "unparseable_timestamp",
    "future_timestamp",
    "out_of_range",
    "unknown_user",
    "unknown_item",
    "late_event",
    "erased",
)
"""Reason codes, in the order checks run (a row keeps its first reason)."""

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
REPLACEMENT_CHARACTER = "\ufffd"
DELIMITERS = (",", ";", "\t", "|")


class InputError(ValueError):
    """A whole input is unusable; the message names the file and the column."""


class ReconciliationError(AssertionError):
    """Rows in do not equal curated + quarantined + dropped duplicates."""


def source_name(frame: pd.DataFrame, table: str) -> str:
    """The file a raw table came from (``frame.attrs["source_file"]``), else its table name."""
    return str(frame.attrs.get("source_file") or f"<{table} table>")


def check_input(frame: pd.DataFrame, table: str, required: Iterable[str]) -> None:
    """Raise ``InputError`` when ``frame`` is unusable as a whole.

    Parameters
    ----------
    frame : DataFrame of shape (n_rows, n_columns)
        A raw table, column names already normalized.
    table : str
        Contract table name, for the message.
    required : iterable of str
        Columns the table must have.

    Raises
    ------
    InputError
        Naming the file and the column: no rows, one column whose name holds another
        delimiter (a file read with the wrong one), or a required column absent.
    """
    source = source_name(frame, table)
    if len(frame.columns) == 1 and len(frame.columns[0]) > 0:
        name = str(frame.columns[0])
        found = [d for d in DELIMITERS if d in name]
        if found:
            raise InputError(
                f"{source}: wrong delimiter: the header is one column {name[:80]!r}, "
                f"split by {found[0]!r}; read the file with that delimiter"
            )
    missing = [column for column in required if column not in frame.columns]
    if missing:
        raise InputError(
            f"{source}: table {table!r} lacks required column(s) {missing}; "
            f"found {list(frame.columns)}"
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


def is_missing(values: pd.Series, trimmed: bool = False) -> np.ndarray:
    """Boolean mask of shape (n,): null, or a string that is empty once trimmed.

    ``trimmed`` says the strings are trimmed already, so only empty ones are checked.
    """
    missing = values.isna().to_numpy(bool)
    if trimmed:
        return missing | values.str.len().eq(0).fillna(False).to_numpy(bool)
    if pd.api.types.is_string_dtype(values.dtype) and values.dtype != object:
        blank = values.str.strip().eq("").fillna(False).to_numpy(bool)
        return missing | blank
    if values.dtype == object:
        return missing | values.map(lambda v: isinstance(v, str) and not v.strip()).to_numpy(bool)
    return missing


def _undecodable(value) -> bool:
    """Whether a Python string holds U+FFFD or a lone surrogate (undecodable bytes)."""
    if not isinstance(value, str):
        return False
    return REPLACEMENT_CHARACTER in value or any("\ud800" <= ch <= "\udfff" for ch in value)


def flag_bad_encoding(verdicts: Verdicts, frame: pd.DataFrame) -> None:
    """Reject rows holding U+FFFD or lone surrogates: bytes that were not valid text."""
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_string_dtype(values.dtype) and values.dtype != object:
            bad = values.str.contains(REPLACEMENT_CHARACTER, regex=False).fillna(False)
        elif values.dtype == object and pd.api.types.infer_dtype(values) == "string":
            bad = values.map(_undecodable)
        else:
            continue
        verdicts.flag(bad.to_numpy(bool), "bad_encoding", column)


def flag_unparsed(
    verdicts: Verdicts, raw: pd.Series, parsed: pd.Series, reason: str, column: str
) -> None:
    """Reject rows where ``raw`` holds a value but ``parsed`` could not make sense of it."""
    verdicts.flag(~is_missing(raw) & parsed.isna().to_numpy(bool), reason, column)


def to_number(values: pd.Series) -> pd.Series:
    """Numbers as float64; what is not a number becomes NaN (shape (n,))."""
    if pd.api.types.is_numeric_dtype(values.dtype) and values.dtype != bool:
        return values.astype(float)
    text = values.astype("str").str.strip()
    return pd.to_numeric(text, errors="coerce").astype(float)


_TRUE = {"true", "1", "yes", "y", "t", "granted", "opt-in", "optin"}
_FALSE = {"false", "0", "no", "n", "f", "withdrawn", "denied", "opt-out", "optout", "revoked"}


def to_boolean(values: pd.Series) -> pd.Series:
    """Booleans from bool or text (``true``/``yes``/``granted``...); else null (shape (n,))."""
    if values.dtype == bool:
        return values.astype("boolean")
    text = values.astype("str").str.strip().str.lower()
    result = pd.Series(pd.NA, index=values.index, dtype="boolean")
    result[text.isin(_TRUE).to_numpy(bool)] = True
    result[text.isin(_FALSE).to_numpy(bool)] = False
    return result


def quarantine_records(
    raw: pd.DataFrame,
    verdicts: Verdicts,
    table: str,
    sanitize: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
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
        Applied to the rejected rows before they are recorded (pseudonymization, redaction).

    Returns
    -------
    DataFrame of shape (n_rejected, len(QUARANTINE_COLUMNS))
        ``row`` is the 0-based data row in the source, ``record`` a JSON object of the row.
    """
    rejected = np.flatnonzero(verdicts.rejected)
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
    """Raise unless rows in = curated + quarantined + duplicates for ``table``.

    Parameters
    ----------
    counts : dict of str to int
        Holds ``<table>_in``, ``<table>_curated``, ``<table>_quarantined`` and
        ``<table>_duplicates``.
    table : str

    Raises
    ------
    ReconciliationError
        Naming the table and every count.
    """
    parts = ("curated", "quarantined", "duplicates")
    total = sum(counts[f"{table}_{part}"] for part in parts)
    if counts[f"{table}_in"] != total:
        raise ReconciliationError(
            f"{table}: {counts[f'{table}_in']} rows in but {total} accounted for "
            f"(curated + quarantined + duplicates): {counts}"
        )
    log.info(
        "%s: %d in = %d curated + %d quarantined + %d duplicates",
        table,
        counts[f"{table}_in"],
        *(counts[f"{table}_{part}"] for part in parts),
    )


@dataclass(frozen=True)
class TableSpec:
    """What the columns of one contract table are, for typing and checking.

    Attributes
    ----------
    key : str or None
        Column that identifies a row (later repeats are duplicates).
    required : tuple of str
        Columns that must exist and hold a value.
    numeric, timestamps, booleans, categorical, text, countries, identifiers : tuple of str
        Columns parsed as float, UTC timestamps, booleans; normalized as categories, NFC
        text, ISO country codes; trimmed identifier strings. Absent optional columns are
        skipped.
    """

    key: str | None
    required: tuple[str, ...]
    numeric: tuple[str, ...] = ()
    timestamps: tuple[str, ...] = ()
    booleans: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    text: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    identifiers: tuple[str, ...] = ()


SPECS = {
    "events": TableSpec(
        key="event_id",
        required=("user_id", "item_id", "event_type", "timestamp"),
        numeric=("value", "revenue", "unit_price", "price"),
        timestamps=("timestamp",),
        categorical=("event_type", "device", "channel"),
        countries=("country",),
        identifiers=("event_id", "user_id", "item_id", "session_id", "invoice_no"),
    ),
    "users": TableSpec(
        key="user_id",
        required=("user_id",),
        numeric=("age",),
        timestamps=("signup_time",),
        categorical=("gender", "occupation"),
        countries=("country",),
        identifiers=("user_id",),
    ),
    "items": TableSpec(
        key="item_id",
        required=("item_id",),
        numeric=("price",),
        text=("title", "text"),
        identifiers=("item_id",),
    ),
    "consent": TableSpec(
        key=None,
        required=("user_id", "purpose", "granted", "timestamp"),
        timestamps=("timestamp",),
        booleans=("granted",),
        categorical=("purpose",),
        identifiers=("user_id",),
    ),
}


def type_rows(raw: pd.DataFrame, spec: TableSpec, settings) -> tuple[pd.DataFrame, Verdicts]:
    """Parse and standardize a raw table's columns, rejecting rows that do not parse.

    Parameters
    ----------
    raw : DataFrame of shape (n_rows, n_columns)
        As the source delivered it, column names normalized.
    spec : TableSpec
    settings : CurationSettings
        Source time zone, timestamp format, epoch unit, synonyms, country aliases, ``now``.

    Returns
    -------
    typed : DataFrame of shape (n_rows, n_columns)
        Same rows; parsed columns typed (NaN/NaT where rejected), others unchanged.
    verdicts : Verdicts
        ``bad_encoding``, ``missing_required``, ``unparseable_type``,
        ``unparseable_timestamp`` and ``future_timestamp`` rejections.
    """
    typed = raw.copy(deep=False)
    verdicts = Verdicts.empty(len(raw))
    flag_bad_encoding(verdicts, raw)
    identifiers = [c for c in spec.identifiers if c in raw]
    for column in identifiers:
        typed[column] = trim(raw[column])
    for column in spec.required:
        trimmed = column in identifiers
        missing = is_missing(typed[column] if trimmed else raw[column], trimmed)
        verdicts.flag(missing, "missing_required", column)
    for column in (c for c in spec.numeric if c in raw):
        typed[column] = to_number(raw[column])
        flag_unparsed(verdicts, raw[column], typed[column], "unparseable_type", column)
    for column in (c for c in spec.booleans if c in raw):
        typed[column] = to_boolean(raw[column])
        flag_unparsed(verdicts, raw[column], typed[column], "unparseable_type", column)
    for column in (c for c in spec.timestamps if c in raw):
        typed[column] = to_utc(
            raw[column], settings.source_timezone, settings.timestamp_format, settings.epoch_unit
        )
        flag_unparsed(verdicts, raw[column], typed[column], "unparseable_timestamp", column)
        future = (typed[column] > settings.now()).fillna(False).to_numpy(bool)
        verdicts.flag(future, "future_timestamp", column)
    _standardize(typed, spec, settings)
    return typed, verdicts


def _standardize(typed: pd.DataFrame, spec: TableSpec, settings) -> None:
    """Categories, text and countries normalized in place."""
    for column in (c for c in spec.categorical if c in typed):
        typed[column] = normalize_categorical(typed[column], settings.synonyms.get(column))
    for column in (c for c in spec.text if c in typed):
        typed[column] = normalize_text(typed[column])
    for column in (c for c in spec.countries if c in typed):
        typed[column] = country_codes(typed[column], settings.country_aliases)


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
        verdicts.flag(~ids.isin(known).to_numpy(bool), reason, column)
