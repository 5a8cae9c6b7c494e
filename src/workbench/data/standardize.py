"""Standardization: timestamps to UTC, categorical values, text and country names.

Every function is vectorized over a column and pure: configuration (source time zone, synonym
maps, country aliases) arrives as arguments. String work is done once per distinct value
(``pd.factorize``) so it costs little on columns with few distinct values, such as event types
or countries, whatever the number of rows.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pycountry

from workbench.data.contract import TIMESTAMP_DTYPE

log = logging.getLogger(__name__)

OFFSET_PATTERN = r"(?:[Zz]|[+-]\d\d(?::?\d\d)?)\s*$"
EPOCH_PATTERN = r"^\s*-?\d+(?:\.\d*)?\s*$"
BOM = "\ufeff"

COUNTRY_ALIASES: dict[str, str | None] = {
    "eire": "IE",
    "rsa": "ZA",
    "uk": "GB",
    "u.k.": "GB",
    "great britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "korea": "KR",
    "south korea": "KR",
    "russia": "RU",
    "channel islands": None,
    "european community": None,
    "unspecified": None,
}
"""Names ``pycountry`` does not resolve: ISO alpha-2 code, or ``None`` for no single country."""


def is_arrow_string(values: pd.Series) -> bool:
    """Whether a column holds strings stored by Arrow (the pandas 3 default)."""
    return isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow"


def _dictionary(values: pd.Series) -> pa.DictionaryArray:
    """An Arrow-backed string column, dictionary-encoded (first-occurrence order)."""
    arrow = pa.array(values.array)
    if isinstance(arrow, pa.ChunkedArray):
        arrow = arrow.combine_chunks()
    return pc.dictionary_encode(arrow)


def encode(values: pd.Series) -> tuple[np.ndarray, int]:
    """Integer codes of a column's values, numbered by first occurrence.

    Parameters
    ----------
    values : Series of shape (n,)

    Returns
    -------
    codes : ndarray of signed integers, shape (n,)
        ``-1`` for nulls (int32 for Arrow strings, to keep memory low).
    n_distinct : int
    """
    if is_arrow_string(values):
        encoded = _dictionary(values)
        indices = encoded.indices
        if indices.null_count:
            indices = indices.fill_null(-1)
        return indices.to_numpy(zero_copy_only=False), len(encoded.dictionary)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return codes, len(uniques)


def map_distinct(values: pd.Series, func: Callable[[str], object]) -> pd.Series:
    """Apply ``func`` once per distinct non-null value of ``values``.

    Arrow-backed string columns are dictionary-encoded and the mapped dictionary is taken
    back by index, all in Arrow; other columns go through ``pd.factorize``.

    Parameters
    ----------
    values : Series of shape (n,)
    func : callable
        Maps one value (as ``str``) to its replacement; may return ``None``.

    Returns
    -------
    Series of shape (n,)
        Same index as ``values``; nulls stay null; dtype ``str`` when ``func`` returns
        strings.
    """
    if is_arrow_string(values):
        encoded = _dictionary(values)
        distinct = encoded.dictionary.to_pylist()
        mapped = [func(value) for value in distinct]
        if mapped == distinct:
            return values  # nothing changes: share the column instead of copying it
        if _all_str_or_null(mapped):
            taken = pa.array(mapped, type=pa.large_string()).take(encoded.indices)
            return pd.Series(pd.array(taken, dtype="str"), index=values.index)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    mapped = np.array([func(str(value)) for value in uniques] + [None], dtype=object)
    result = pd.Series(mapped[codes], index=values.index)
    return result.astype("str") if _all_str_or_null(mapped) else result


def _all_str_or_null(values: np.ndarray) -> bool:
    return all(value is None or isinstance(value, str) for value in values)


def matches(values: pd.Series, pattern: str) -> np.ndarray:
    """Boolean mask of shape (n,): values where the regular expression ``pattern`` is found.

    Arrow-backed strings are searched by Arrow (RE2) directly: pandas falls back to Python's
    ``re`` for some patterns, a hundred times slower on millions of rows.
    """
    if is_arrow_string(values):
        found = pc.match_substring_regex(pa.array(values.array), pattern)
        return found.fill_null(False).to_numpy(zero_copy_only=False).astype(bool)
    return values.astype("str").str.contains(pattern, regex=True).fillna(False).to_numpy(bool)


def trim(values: pd.Series) -> pd.Series:
    """Strings without surrounding whitespace (shape (n,)); the column itself when none has any.

    Non-string columns (integer ids) are converted to strings first.
    """
    text = values.astype("str")
    if not is_arrow_string(text):
        return text.str.strip()
    arrow = pa.array(text.array)
    trimmed = pc.utf8_trim_whitespace(arrow)
    changed = pc.any(pc.not_equal(pc.binary_length(trimmed), pc.binary_length(arrow))).as_py()
    return pd.Series(pd.array(trimmed, dtype="str"), index=text.index) if changed else text


def to_utc(
    values: pd.Series,
    source_timezone: str = "UTC",
    naive_format: str | None = None,
    epoch_unit: str = "s",
) -> pd.Series:
    """Parse timestamps into ``datetime64[us, UTC]``; what cannot be parsed becomes ``NaT``.

    Strings may mix three forms, row by row: ISO 8601 with an offset or ``Z`` (converted),
    epoch numbers in ``epoch_unit`` (UTC by definition), and naive local times, read in
    ``source_timezone``. Ambiguous local times (the repeated hour when clocks go back) take the
    first occurrence; non-existent ones (the skipped hour) shift forward.

    Parameters
    ----------
    values : Series of shape (n,)
        Strings, numbers (epochs) or datetimes (naive ones are local to ``source_timezone``).
    source_timezone : str
        IANA zone of naive times (``"Europe/London"``).
    naive_format : str, optional
        ``strptime`` format of naive strings; ISO 8601 when omitted.
    epoch_unit : str
        Unit of epoch numbers (``"s"``, ``"ms"``).

    Returns
    -------
    Series of shape (n,), dtype ``datetime64[us, UTC]``
    """
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC").astype(TIMESTAMP_DTYPE)
    if pd.api.types.is_datetime64_dtype(values.dtype):
        return _localize(values, source_timezone)
    if pd.api.types.is_numeric_dtype(values.dtype):
        return _from_epoch(values, epoch_unit)
    return _parse_strings(values.astype("str"), source_timezone, naive_format, epoch_unit)


def _parse_strings(
    text: pd.Series, source_timezone: str, naive_format: str | None, epoch_unit: str
) -> pd.Series:
    """Parse a string column mixing offset, epoch and naive forms."""
    result = pd.Series(pd.NaT, index=text.index, dtype=TIMESTAMP_DTYPE)
    offset = matches(text, OFFSET_PATTERN)
    if offset.any():
        parsed = pd.to_datetime(text[offset], format="ISO8601", utc=True, errors="coerce")
        result[offset] = parsed.astype(TIMESTAMP_DTYPE)
    rest = ~offset & text.notna().to_numpy(bool)
    epoch = rest & matches(text, EPOCH_PATTERN)
    if epoch.any():
        result[epoch] = _from_epoch(pd.to_numeric(text[epoch], errors="coerce"), epoch_unit)
    naive = rest & ~epoch
    if naive.any():
        parsed = pd.to_datetime(
            text[naive], format=naive_format or "ISO8601", errors="coerce", utc=False
        )
        result[naive] = _localize(parsed, source_timezone)
    return result


def _from_epoch(numbers: pd.Series, unit: str) -> pd.Series:
    """Epoch numbers to UTC timestamps; out-of-bounds values become ``NaT``."""
    numbers = pd.to_numeric(numbers, errors="coerce").astype(float)
    limit = {"s": 1e11, "ms": 1e14, "us": 1e17}.get(unit, np.inf)
    numbers = numbers.where(numbers.abs() < limit)
    return pd.to_datetime(numbers, unit=unit, utc=True, errors="coerce").astype(TIMESTAMP_DTYPE)


def _localize(naive: pd.Series, source_timezone: str) -> pd.Series:
    """Naive local datetimes to UTC (first occurrence when ambiguous, shifted when skipped)."""
    naive = pd.to_datetime(naive, errors="coerce")
    if isinstance(naive.dtype, pd.DatetimeTZDtype):
        return naive.dt.tz_convert("UTC").astype(TIMESTAMP_DTYPE)
    local = naive.dt.tz_localize(
        source_timezone,
        ambiguous=np.ones(len(naive), dtype=bool),
        nonexistent="shift_forward",
    )
    return local.dt.tz_convert("UTC").astype(TIMESTAMP_DTYPE)


def _normal_key(value: str) -> str:
    """Case-folded, whitespace-collapsed form of a categorical value."""
    return " ".join(unicodedata.normalize("NFC", value).replace(BOM, "").split()).lower()


def normalize_categorical(
    values: pd.Series, synonyms: Mapping[str, str] | None = None
) -> pd.Series:
    """Normalize a categorical column: NFC, trimmed, single spaces, lower case, synonyms.

    Parameters
    ----------
    values : Series of shape (n,)
    synonyms : mapping of str to str, optional
        Variant -> canonical value (``{"buy": "purchase", "add to cart": "add_to_cart"}``);
        variants are matched after normalization, so ``" Buy "`` maps too.

    Returns
    -------
    Series of shape (n,), dtype str
        Empty strings become null.
    """
    table = {_normal_key(key): canonical for key, canonical in (synonyms or {}).items()}

    def normal(value: str) -> str | None:
        key = _normal_key(value)
        return table.get(key, key) or None

    return map_distinct(values, normal).astype("str")


def normalize_text(values: pd.Series) -> pd.Series:
    """Free text to Unicode NFC, without byte-order marks or surrounding whitespace.

    Parameters
    ----------
    values : Series of shape (n,)

    Returns
    -------
    Series of shape (n,), dtype str
    """
    return map_distinct(
        values, lambda value: unicodedata.normalize("NFC", value.replace(BOM, "")).strip()
    ).astype("str")


def country_code(name: str, aliases: Mapping[str, str | None] | None = None) -> str | None:
    """ISO 3166-1 alpha-2 code of a country name or code, ``None`` when there is none.

    Parameters
    ----------
    name : str
        ``"United Kingdom"``, ``"EIRE"``, ``"deu"``, ``"FR"``...
    aliases : mapping, optional
        Extra names checked first (lower case keys); ``COUNTRY_ALIASES`` by default.
    """
    key = " ".join(name.split()).lower()
    table = COUNTRY_ALIASES if aliases is None else {**COUNTRY_ALIASES, **aliases}
    if key in table:
        return table[key]
    try:
        return pycountry.countries.lookup(key).alpha_2
    except LookupError:
        return None


def country_codes(values: pd.Series, aliases: Mapping[str, str | None] | None = None) -> pd.Series:
    """Country names to ISO alpha-2 codes, column-wise; names without a code become null.

    Parameters
    ----------
    values : Series of shape (n,)
    aliases : mapping, optional
        See ``country_code``.

    Returns
    -------
    Series of shape (n,), dtype str
    """
    codes = map_distinct(values, lambda value: country_code(value, aliases)).astype("str")
    unresolved = values.notna() & codes.isna()
    if unresolved.any():
        names = sorted(values[unresolved].astype(str).unique())[:10]
        log.info("%d rows have a country without an ISO code: %s", int(unresolved.sum()), names)
    return codes


def normalize_column_names(columns: list[str]) -> list[str]:
    """Header names without byte-order marks or surrounding whitespace.

    A byte-order mark that survives decoding sticks to the first column name
    (``"\\ufeffuser_id"``), which would otherwise read as a missing required column.
    """
    return [re.sub(r"\s+", " ", str(name).replace(BOM, "")).strip() for name in columns]
