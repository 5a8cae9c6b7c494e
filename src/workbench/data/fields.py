"""What the columns of each contract table are, and how a raw table's values are typed.

``type_rows`` parses and standardizes every column it knows. A bad value rejects its row when
the column is required or a measure (ids, event type, timestamp, quantity, revenue); in an
optional attribute (``TableSpec.optional``: a user's age, an item's price, an event's device)
it becomes null and is recorded in ``FieldIssues``, and the row stays.

Checks, in order: bytes that were not text (``bad_encoding``), missing required values, ids
with control characters (``invalid_id``; ids become canonical strings), numbers that do not
parse (``unparseable_type``), ``inf``/``nan`` (``non_finite``), numbers outside the column's
range (``out_of_range``), timestamps that do not parse, fall before the plausible window
(``implausible_timestamp``) or after it (``future_timestamp``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from workbench.data.errors import InputError
from workbench.data.quality import (
    REPLACEMENT_CHARACTER,
    FieldIssues,
    Verdicts,
    source_name,
)
from workbench.data.standardize import (
    canonical_ids,
    country_codes,
    is_arrow_string,
    normalize_categorical,
    normalize_text,
)
from workbench.data.timestamps import AmbiguousTimestamps, parse_timestamps

DEFAULT_RANGES: dict[str, tuple[float, float]] = {
    "value": (-1e7, 1e7),
    "revenue": (-1e9, 1e9),
    "unit_price": (0.0, 1e7),
    "price": (0.0, 1e7),
    "age": (0.0, 120.0),
}
"""Plausible values per numeric column (inclusive); ``CurationSettings.ranges`` overrides."""

IDENTITY_FIELDS = ("name", "email", "phone", "address", "zip", "postcode", "birth_date")
"""User columns entity resolution may compare; never curated."""

_NON_FINITE_TEXT = r"(?i)^\s*[+-]?(?:nan|inf|infinity)\s*$"


@dataclass(frozen=True)
class TableSpec:
    """What the columns of one contract table are, for typing and checking.

    Attributes
    ----------
    key : str or None
        Column that identifies a row (later repeats are duplicates or conflicts).
    required : tuple of str
        Columns that must exist and hold a value.
    numeric, timestamps, booleans, categorical, text, countries, identifiers : tuple of str
        Columns parsed as float, UTC timestamps, booleans; normalized as categories, NFC
        text, ISO country codes; canonical identifier strings. Absent columns are skipped.
    optional : tuple of str
        Attributes whose bad values become null (a field issue) instead of rejecting the row.
    contract : tuple of str
        Every column the table may keep (quarantine records hold only these).
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
    optional: tuple[str, ...] = ()
    contract: tuple[str, ...] = ()


SPECS = {
    "events": TableSpec(
        key="event_id",
        required=("user_id", "item_id", "event_type", "timestamp"),
        numeric=("value", "revenue", "unit_price", "price"),
        timestamps=("timestamp",),
        categorical=("event_type", "device", "channel"),
        countries=("country",),
        identifiers=("event_id", "user_id", "item_id", "session_id", "invoice_no"),
        optional=("session_id", "device", "channel", "country"),
        contract=(
            "event_id",
            "user_id",
            "item_id",
            "event_type",
            "value",
            "revenue",
            "timestamp",
            "session_id",
            "device",
            "channel",
            "country",
            "invoice_no",
            "unit_price",
            "description",
        ),
    ),
    "users": TableSpec(
        key="user_id",
        required=("user_id",),
        numeric=("age",),
        timestamps=("signup_time",),
        categorical=("gender", "occupation"),
        countries=("country",),
        identifiers=("user_id",),
        optional=("age", "gender", "occupation", "country", "signup_time", *IDENTITY_FIELDS),
        contract=("user_id", "age", "gender", "occupation", "country", "signup_time"),
    ),
    "items": TableSpec(
        key="item_id",
        required=("item_id",),
        numeric=("price",),
        text=("title", "text"),
        identifiers=("item_id",),
        optional=("price", "title", "text", "categories"),
        contract=("item_id", "title", "text", "categories", "price"),
    ),
    "consent": TableSpec(
        key=None,
        required=("user_id", "purpose", "granted", "timestamp"),
        timestamps=("timestamp",),
        booleans=("granted",),
        categorical=("purpose",),
        identifiers=("user_id",),
        contract=("user_id", "purpose", "granted", "timestamp"),
    ),
}


def is_missing(values: pd.Series) -> np.ndarray:
    """Boolean mask of shape (n,): null, or a string that is empty once trimmed."""
    missing = values.isna().to_numpy(bool)
    if pd.api.types.is_string_dtype(values.dtype) and values.dtype != object:
        return missing | values.str.strip().eq("").fillna(False).to_numpy(bool)
    if values.dtype == object:
        blank = values.map(lambda v: isinstance(v, str) and not v.strip()).to_numpy(bool)
        return missing | blank
    return missing


def undecodable(values: pd.Series) -> np.ndarray | None:
    """Rows of a string column holding U+FFFD or lone surrogates; None for other columns."""
    if is_arrow_string(values):
        arrow = pa.array(values.array)
        if pc.all(pc.string_is_ascii(arrow)).as_py() is not False:  # ASCII has no U+FFFD
            return np.zeros(len(values), dtype=bool)
        found = pc.match_substring(arrow, REPLACEMENT_CHARACTER).fill_null(False)
        return found.to_numpy(zero_copy_only=False).astype(bool)
    if pd.api.types.is_string_dtype(values.dtype) and values.dtype != object:
        found = values.str.contains(REPLACEMENT_CHARACTER, regex=False).fillna(False)
        return found.to_numpy(bool)
    if values.dtype == object and pd.api.types.infer_dtype(values) in ("string", "mixed"):
        return values.map(_undecodable).to_numpy(bool)
    return None


def _undecodable(value) -> bool:
    if not isinstance(value, str):
        return False
    return REPLACEMENT_CHARACTER in value or any("\ud800" <= ch <= "\udfff" for ch in value)


def to_number(values: pd.Series) -> pd.Series:
    """Numbers as float64; what is not a number becomes NaN (shape (n,)); ``inf`` stays."""
    if pd.api.types.is_numeric_dtype(values.dtype) and values.dtype != bool:
        return values.astype(float)
    text = values.astype("str").str.strip()
    return pd.to_numeric(text, errors="coerce").astype(float)


def non_finite_text(values: pd.Series) -> np.ndarray:
    """Rows whose text spells ``nan``, ``inf`` or ``infinity`` (any case or sign)."""
    if pd.api.types.is_numeric_dtype(values.dtype):
        return np.zeros(len(values), dtype=bool)
    return (
        values.astype("str").str.contains(_NON_FINITE_TEXT, regex=True).fillna(False).to_numpy(bool)
    )


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


class _Outcome:
    """Where a bad value goes: its row is rejected, or (optional column) it becomes null."""

    def __init__(self, typed, verdicts: Verdicts, issues: FieldIssues, spec: TableSpec):
        self.typed, self.verdicts, self.issues, self.spec = typed, verdicts, issues, spec

    def bad(self, mask: np.ndarray, reason: str, column: str) -> None:
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        if column in self.spec.optional:
            self.issues.add(mask, column, reason)
            self.typed[column] = self.typed[column].mask(mask)
        else:
            self.verdicts.flag(mask, reason, column)


def type_rows(
    raw: pd.DataFrame, spec: TableSpec, settings
) -> tuple[pd.DataFrame, Verdicts, FieldIssues]:
    """Parse and standardize a raw table's columns; reject rows or null optional values.

    Parameters
    ----------
    raw : DataFrame of shape (n_rows, n_columns)
        As the source delivered it, column names normalized.
    spec : TableSpec
    settings : CurationSettings
        Time zone, timestamp format, epoch unit, window, ranges, synonyms, country aliases.

    Returns
    -------
    typed : DataFrame of shape (n_rows, n_columns)
        Same rows; parsed columns typed (NaN/NaT where rejected or nulled).
    verdicts : Verdicts
    issues : FieldIssues

    Raises
    ------
    InputError
        When a timestamp column is ambiguous (no format stated), naming file and column.
    """
    typed = raw.copy(deep=False)
    verdicts, issues = Verdicts.empty(len(raw)), FieldIssues()
    outcome = _Outcome(typed, verdicts, issues, spec)
    checked = {*spec.contract, *spec.optional, *spec.required}
    for column in (c for c in raw.columns if c in checked):
        bad = undecodable(raw[column])
        if bad is not None:
            outcome.bad(bad, "bad_encoding", column)
    for column in (c for c in spec.identifiers if c in raw):
        typed[column], invalid = canonical_ids(typed[column])
        outcome.bad(invalid, "invalid_id", column)
    for column in spec.required:
        verdicts.flag(is_missing(typed[column]), "missing_required", column)
    for column in (c for c in spec.numeric if c in raw):
        _numbers(outcome, typed[column], column, settings)
    for column in (c for c in spec.booleans if c in raw):
        given = typed[column]
        typed[column] = to_boolean(given)
        unparsed = ~is_missing(given) & typed[column].isna().to_numpy(bool)
        outcome.bad(unparsed, "unparseable_type", column)
    for column in (c for c in spec.timestamps if c in raw):
        _timestamps(outcome, typed[column], column, settings, source_name(raw, "table"))
    _standardize(typed, spec, settings)
    return typed, verdicts, issues


def _numbers(outcome: _Outcome, raw: pd.Series, column: str, settings) -> None:
    typed = outcome.typed
    typed[column] = to_number(raw)
    values = typed[column].to_numpy(float)
    nan = np.isnan(values)
    spelled = non_finite_text(raw)
    outcome.bad(~is_missing(raw) & nan & ~spelled, "unparseable_type", column)
    outcome.bad(np.isinf(values) | (spelled & nan), "non_finite", column)
    typed[column] = typed[column].where(np.isfinite(typed[column].to_numpy(float)))
    low, high = {**DEFAULT_RANGES, **dict(settings.ranges)}.get(column, (-np.inf, np.inf))
    values = typed[column].to_numpy(float)
    with np.errstate(invalid="ignore"):
        outside = (values < low) | (values > high)
    outcome.bad(outside, "out_of_range", column)


def _timestamps(outcome: _Outcome, given: pd.Series, column: str, settings, source: str) -> None:
    window = settings.window()
    try:
        parsed, recognized = parse_timestamps(
            given,
            settings.source_timezone,
            settings.timestamp_format,
            settings.epoch_unit,
            window,
            column,
        )
    except AmbiguousTimestamps as error:
        raise InputError(f"{source}: {error}") from None
    outcome.typed[column] = parsed
    unparsed = ~is_missing(given) & parsed.isna().to_numpy(bool)
    outcome.bad(unparsed & ~recognized, "unparseable_timestamp", column)
    outcome.bad(unparsed & recognized, "implausible_timestamp", column)
    early = (parsed < window[0]).fillna(False).to_numpy(bool)
    outcome.bad(early, "implausible_timestamp", column)
    late = (parsed > window[1]).fillna(False).to_numpy(bool)
    outcome.bad(late, "future_timestamp", column)


def _standardize(typed: pd.DataFrame, spec: TableSpec, settings) -> None:
    """Categories, text and countries normalized in place."""
    for column in (c for c in spec.categorical if c in typed):
        typed[column] = normalize_categorical(typed[column], settings.synonyms.get(column))
    for column in (c for c in spec.text if c in typed):
        typed[column] = normalize_text(typed[column])
    for column in (c for c in spec.countries if c in typed):
        typed[column] = country_codes(typed[column], settings.country_aliases)
