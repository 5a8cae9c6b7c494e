"""Standardization: identifiers, categorical values, text and country names.

Every function is vectorized over a column and pure: configuration (synonym maps, country
aliases) arrives as arguments. Timestamps have their own module (``timestamps``). String work
is done once per distinct value (``pd.factorize``) so it costs little on columns with few
distinct values, such as event types or countries, whatever the number of rows.
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

from workbench.data.timestamps import to_utc

__all__ = ["canonical_ids", "country_codes", "normalize_categorical", "normalize_text", "to_utc"]

log = logging.getLogger(__name__)

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
    return map_distinct_array(values, lambda distinct: [func(value) for value in distinct])


def map_distinct_array(values: pd.Series, func: Callable[[np.ndarray], list]) -> pd.Series:
    """``map_distinct`` with a function of all distinct values at once (vectorized work).

    Parameters
    ----------
    values : Series of shape (n,)
    func : callable
        Maps an object array of the distinct non-null values (as ``str``), shape
        (n_distinct,), to a list of their replacements (``None`` allowed), in the same order.

    Returns
    -------
    Series of shape (n,)
        As ``map_distinct``; ``values`` itself when nothing changes.
    """
    if is_arrow_string(values):
        encoded = _dictionary(values)
        distinct = encoded.dictionary.to_pylist()
        mapped = list(func(np.array(distinct, dtype=object)))
        if mapped == distinct:
            return values  # nothing changes: share the column instead of copying it
        if _all_str_or_null(mapped):
            taken = pa.array(mapped, type=pa.large_string()).take(encoded.indices)
            return pd.Series(pd.array(taken, dtype="str"), index=values.index)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    distinct = np.array([str(value) for value in uniques], dtype=object)
    mapped = np.array([*func(distinct), None], dtype=object)
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


CONTROL_PATTERN = (
    r"[\x{0}-\x{1F}\x{7F}-\x{9F}\x{200B}-\x{200F}\x{2028}-\x{202E}\x{2060}-\x{2064}\x{FEFF}]"
)
"""Control and invisible format characters (RE2 syntax): never part of a valid identifier."""
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]")
INTEGRAL_FLOAT = r"^([+-]?\d+)\.0+$"


def _control_characters(arrow: pa.Array) -> np.ndarray:
    """Rows of an Arrow string array holding a ``CONTROL_PATTERN`` character (shape (n,)).

    Printable ASCII strings cannot hold one; the pattern runs on the other rows only.
    """
    suspect = pc.invert(pc.ascii_is_printable(arrow)).fill_null(False)
    invalid = np.zeros(len(arrow), dtype=bool)
    if pc.any(suspect).as_py():
        rows = np.flatnonzero(suspect.to_numpy(zero_copy_only=False))
        found = pc.match_substring_regex(arrow.take(pa.array(rows)), CONTROL_PATTERN)
        invalid[rows] = found.fill_null(False).to_numpy(zero_copy_only=False).astype(bool)
    return invalid


def isin(values: pd.Series, known) -> np.ndarray:
    """Boolean mask of shape (n,): non-null values found among ``known``.

    Arrow-backed strings are looked up by Arrow directly (pandas builds a Python scalar per
    known value and converts the result row by row).
    """
    if is_arrow_string(values):
        wanted = pd.Series(known, dtype="str").dropna()
        if not len(wanted):
            return np.zeros(len(values), dtype=bool)
        arrow = pa.array(values.array)
        value_set = pa.array(wanted.array).cast(arrow.type)
        found = pc.is_in(arrow, value_set=value_set)
        return found.fill_null(False).to_numpy(zero_copy_only=False).astype(bool)
    return values.isin(known).to_numpy(bool) & values.notna().to_numpy(bool)


def canonical_ids(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Identifiers as canonical strings, and the rows whose id holds a control character.

    Integral floats become integer strings (``17850.0`` and ``"17850.0"`` both become
    ``"17850"``), strings are NFC and trimmed; empty strings become null.

    Parameters
    ----------
    values : Series of shape (n,)
        Strings, integers or floats.

    Returns
    -------
    ids : Series of shape (n,), dtype str
    invalid : ndarray of bool, shape (n,)
        True where the id holds a control or invisible format character (NUL, U+200B...) or
        is a non-finite number.
    """
    if pd.api.types.is_float_dtype(values.dtype):
        numbers = values.to_numpy(dtype=float, na_value=np.nan)
        finite = np.isfinite(numbers)
        with np.errstate(invalid="ignore"):
            integral = finite & (np.mod(numbers, 1) == 0) & (np.abs(numbers) < 2**63)
        text = np.full(len(numbers), None, dtype=object)
        text[integral] = numbers[integral].astype(np.int64).astype(str)
        text[finite & ~integral] = numbers[finite & ~integral].astype(str)
        invalid = ~finite & ~np.isnan(numbers)
        return pd.Series(text, index=values.index, dtype="str"), invalid
    text = trim(values)
    if is_arrow_string(text):
        arrow = pa.array(text.array)
        invalid = _control_characters(arrow)
        # a literal search is cheaper than the pattern, which only runs when it can match
        if pc.any(pc.match_substring(arrow, ".0")).as_py():
            arrow = pc.replace_substring_regex(arrow, INTEGRAL_FLOAT, r"\1")
        if not pc.all(pc.string_is_ascii(arrow)).as_py():
            arrow = pc.utf8_normalize(arrow, "NFC")
        empty = pc.equal(arrow, "")
        arrow = pc.if_else(empty, pa.scalar(None, pa.large_string()), arrow.cast(pa.large_string()))
        return pd.Series(pd.array(arrow, dtype="str"), index=values.index), invalid
    invalid = text.map(lambda v: isinstance(v, str) and bool(_CONTROL.search(v))).to_numpy(bool)
    text = text.str.replace(INTEGRAL_FLOAT, r"\1", regex=True)
    text = text.map(lambda v: unicodedata.normalize("NFC", v) if isinstance(v, str) else v)
    return text.where(text != "", None).astype("str"), invalid


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
