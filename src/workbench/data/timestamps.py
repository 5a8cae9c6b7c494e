"""Timestamps to UTC: every unambiguous form, a stated format, and never a guess.

A column may mix forms row by row; each distinct value is classified once:

- ISO 8601 (``1997-01-01``, ``1997-01-01T12:00:00.5``), year-first with slashes or dots
  (``1997/01/02``) and compact ISO (``19970101``, ``19970101T120000``);
- an explicit offset or ``Z`` (``...+02:00``, ``...-0800``), or a zone name after the time:
  an IANA name (``Europe/Paris``) or an RFC 2822 one (``UT``, ``GMT``, ``EST`` ... ``PDT``);
- RFC 2822 (``Wed, 01 Jan 1997 12:00:00 -0800``) and dates with an English month name and a
  four-digit year (``1 January 1997``);
- epoch numbers in s, ms, us or ns, told apart by magnitude (or ``epoch_unit`` when stated);
- naive local times are read in the source's time zone (ambiguous local times take the first
  occurrence, skipped ones shift forward).

A bare run of 8, 12 or 14 digits is both a compact date and an epoch: the reading that falls
inside the plausible window wins; when both do, or when a day and a month cannot be told apart
(``01/02/1997`` with no format stated), ``AmbiguousTimestamps`` names the column and asks for
``timestamp_format``. A stated ``strptime`` format is tried first.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import re
import zoneinfo
from functools import cache

import numpy as np
import pandas as pd

from workbench.data.errors import InputError

log = logging.getLogger(__name__)

TIMESTAMP_DTYPE = "datetime64[us, UTC]"
DEFAULT_WINDOW_START = "1990-01-01"
RFC2822_ZONES = {
    "UT": 0,
    "UTC": 0,
    "GMT": 0,
    "Z": 0,
    "EST": -5,
    "EDT": -4,
    "CST": -6,
    "CDT": -5,
    "MST": -7,
    "MDT": -6,
    "PST": -8,
    "PDT": -7,
}
"""Zone names with one meaning (RFC 2822, section 4.3): hours from UTC."""

_TIME = r"(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?)?"
NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")
ISO_OFFSET = re.compile(
    r"\d{4}-?\d{2}-?\d{2}[T ]\d{2}:?\d{2}(?::?\d{2}(?:[.,]\d{1,9})?)?"
    r"\s*(?:[Zz]|[+-]\d{2}(?::?\d{2})?)"
)
ISO_NAIVE = re.compile(r"\d{4}-\d{2}-\d{2}" + _TIME)
YEAR_FIRST = re.compile(r"(\d{4})[/.](\d{1,2})[/.](\d{1,2})(" + _TIME + ")")
COMPACT_T = re.compile(r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})?")
DAY_MONTH = re.compile(r"\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}(?:[T ,].*)?")
ZONE_SUFFIX = re.compile(r"(?P<body>.+?)\s+(?P<zone>[A-Za-z][A-Za-z0-9_+\-/]*)")
RFC2822 = re.compile(
    r"(?:[A-Za-z]{3},?\s*)?\d{1,2}\s+[A-Za-z]{3}\s+\d{4}\s+\d{1,2}:\d{2}(?::\d{2})?"
    r"(?:\s+(?P<zone>[+-]\d{4}|[A-Za-z]{1,5}))?"
)
MONTH_WORDS = re.compile(
    r"(?i)\b(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|jun(?:e)?|jul(?:y)?|"
    r"aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\b\.?"
)
OTHER_WORDS = re.compile(
    r"(?i)\b(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\b|\b(?:am|pm|at|of|the)\b|(?<=\d)(?:st|nd|rd|th)\b"
)


class AmbiguousTimestamps(InputError):
    """A column holds timestamps that can be read in two ways; a format must be stated."""


def default_window(now: pd.Timestamp | None = None) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The plausible window by default: 1990-01-01 to now + 1 day (UTC)."""
    now = now if now is not None else pd.Timestamp.now(tz="UTC")
    return pd.Timestamp(DEFAULT_WINDOW_START, tz="UTC"), now + pd.Timedelta(days=1)


@cache
def _zone(name: str) -> dt.tzinfo | None:
    """The zone a name denotes: an RFC 2822 name, an IANA name, or None."""
    if name.upper() in RFC2822_ZONES:
        return dt.timezone(dt.timedelta(hours=RFC2822_ZONES[name.upper()]))
    if "/" in name or name in ("UTC", "GMT"):
        try:
            return zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return None
    return None


def check_timezone(name: str) -> str:
    """``name`` when it is an IANA zone (or UTC); else ``ValueError`` naming it."""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(
            f"unknown time zone {name!r}: use an IANA name such as Europe/Paris"
        ) from error
    return name


def localize(naive: pd.Series, timezone) -> pd.Series:
    """Naive local datetimes to UTC (first occurrence when ambiguous, shifted when skipped)."""
    naive = pd.to_datetime(naive, errors="coerce")
    if isinstance(naive.dtype, pd.DatetimeTZDtype):
        return naive.dt.tz_convert("UTC").astype(TIMESTAMP_DTYPE)
    local = naive.dt.tz_localize(
        timezone, ambiguous=np.ones(len(naive), dtype=bool), nonexistent="shift_forward"
    )
    return local.dt.tz_convert("UTC").astype(TIMESTAMP_DTYPE)


def parse_timestamps(
    values: pd.Series,
    timezone: str = "UTC",
    timestamp_format: str | None = None,
    epoch_unit: str | None = None,
    window: tuple[pd.Timestamp, pd.Timestamp] | None = None,
    column: str = "timestamp",
) -> tuple[pd.Series, np.ndarray]:
    """Parse a column into ``datetime64[us, UTC]``, telling unknown forms from impossible ones.

    Parameters
    ----------
    values : Series of shape (n,)
        Strings, numbers (epochs or compact dates) or datetimes (naive ones are local).
    timezone : str
        IANA zone of naive times.
    timestamp_format : str, optional
        ``strptime`` format tried first (``"%d/%m/%Y %H:%M"``).
    epoch_unit : {"s", "ms", "us", "ns"}, optional
        Unit of epoch numbers; told by magnitude when None.
    window : (Timestamp, Timestamp), optional
        Plausible instants, used to tell compact dates from epochs; ``default_window()``.
    column : str
        For messages.

    Returns
    -------
    parsed : Series of shape (n,), dtype ``datetime64[us, UTC]``
        ``NaT`` where nothing could be read.
    recognized : ndarray of bool, shape (n,)
        True where the value has a known form but names no representable instant
        (year 0001 in epoch nanoseconds...): implausible rather than unparseable.

    Raises
    ------
    AmbiguousTimestamps
        When a value reads as two different instants and no format says which.
    """
    window = window or default_window()
    n_rows = len(values)
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC").astype(TIMESTAMP_DTYPE), np.zeros(n_rows, bool)
    if pd.api.types.is_datetime64_dtype(values.dtype):
        return localize(values, timezone), np.zeros(n_rows, bool)
    if pd.api.types.is_numeric_dtype(values.dtype) and values.dtype != bool:
        numbers = values.to_numpy(dtype=float, na_value=np.nan)
        parsed, recognized = _from_numbers(numbers, epoch_unit, window, column, timezone)
        instants = pd.DatetimeIndex(parsed).tz_localize("UTC")
        return pd.Series(instants, index=values.index).astype(TIMESTAMP_DTYPE), recognized
    codes, uniques = pd.factorize(values.astype("str"), use_na_sentinel=True)
    text = pd.Series(np.asarray(uniques, dtype=object), dtype=object).str.strip()
    parsed, recognized = _parse_distinct(
        text, timezone, timestamp_format, epoch_unit, window, column
    )
    taken = np.append(parsed.to_numpy("datetime64[us]"), np.datetime64("NaT", "us"))[codes]
    flags = np.append(recognized, False)[codes]
    result = pd.Series(pd.DatetimeIndex(taken).tz_localize("UTC"), index=values.index)
    return result.astype(TIMESTAMP_DTYPE), flags


def to_utc(
    values: pd.Series,
    source_timezone: str = "UTC",
    naive_format: str | None = None,
    epoch_unit: str | None = None,
    window: tuple[pd.Timestamp, pd.Timestamp] | None = None,
) -> pd.Series:
    """``parse_timestamps`` without the recognized mask: ``NaT`` where nothing could be read."""
    return parse_timestamps(values, source_timezone, naive_format, epoch_unit, window)[0]


def _utc(instants) -> np.ndarray:
    return pd.DatetimeIndex(instants).tz_convert("UTC").tz_localize(None).to_numpy("datetime64[us]")


def _parse_distinct(text, timezone, timestamp_format, epoch_unit, window, column):
    """Parse distinct stripped strings; see ``parse_timestamps``."""
    result = np.full(len(text), np.datetime64("NaT"), dtype="datetime64[us]")
    recognized = np.zeros(len(text), dtype=bool)
    todo = text.notna().to_numpy(bool) & text.fillna("").ne("").to_numpy(bool)

    def fill(mask, instants, known=False):
        nonlocal todo
        at = np.flatnonzero(mask)
        result[at] = instants
        recognized[at] = known & np.isnat(result[at])
        todo = todo & ~mask

    if timestamp_format and todo.any():
        at = np.flatnonzero(todo)
        parsed = _with_format(text.iloc[at], timestamp_format, timezone)
        ok = np.zeros(len(text), bool)
        ok[at] = ~np.isnat(parsed)
        fill(ok, parsed[ok[at]])
    for pattern, parser in (
        (NUMBER, lambda v: _numbers(v, epoch_unit, window, column, timezone)),
        (ISO_OFFSET, _iso_with_offset),
        (ISO_NAIVE, lambda v: _iso_naive(v, timezone)),
        (
            YEAR_FIRST,
            lambda v: _iso_naive(v.str.replace(YEAR_FIRST, _year_first, regex=True), timezone),
        ),
        (
            COMPACT_T,
            lambda v: _iso_naive(v.str.replace(COMPACT_T, _compact_t, regex=True), timezone),
        ),
        (RFC2822, _rfc2822),
    ):
        mask = todo & _fullmatch(text, pattern)
        if mask.any():
            fill(mask, parser(text[mask]), known=pattern is NUMBER)
    mask = todo & _fullmatch(text, ZONE_SUFFIX)
    if mask.any():
        parsed = _zone_suffix(text[mask])
        ok = ~np.isnat(parsed)
        fill(_subset(mask, ok), parsed[ok], known=False)
    mask = todo & text.fillna("").str.contains(MONTH_WORDS).to_numpy(bool)
    if mask.any():
        parsed = np.array([_month_words(v, timezone) for v in text[mask]], dtype="datetime64[us]")
        ok = ~np.isnat(parsed)
        fill(_subset(mask, ok), parsed[ok])
    ambiguous = todo & _fullmatch(text, DAY_MONTH)
    if ambiguous.any() and not timestamp_format:
        raise AmbiguousTimestamps(
            f"column {column!r}: {int(ambiguous.sum())} distinct value(s) such as dd/mm/yyyy or "
            f"mm/dd/yyyy, where the day and the month cannot be told apart; state the format "
            f"(timestamp_format, for example '%d/%m/%Y' or '%m/%d/%Y')"
        )
    return pd.Series(result), recognized


def _fullmatch(text: pd.Series, pattern: re.Pattern) -> np.ndarray:
    return text.fillna("").str.fullmatch(pattern).to_numpy(bool)


def _subset(mask: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """The positions of ``mask`` kept by ``ok`` (a mask over ``mask``'s True positions)."""
    chosen = np.zeros(len(mask), dtype=bool)
    chosen[np.flatnonzero(mask)[ok]] = True
    return chosen


def _year_first(match: re.Match) -> str:
    year, month, day, time = match.groups()
    return f"{year}-{int(month):02d}-{int(day):02d}{time}"


def _compact_t(match: re.Match) -> str:
    year, month, day, hour, minute, second = match.groups()
    return f"{year}-{month}-{day}T{hour}:{minute}:{second or '00'}"


def _with_format(text: pd.Series, timestamp_format: str, timezone) -> np.ndarray:
    aware = "%z" in timestamp_format or "%Z" in timestamp_format
    parsed = pd.to_datetime(text, format=timestamp_format, errors="coerce", utc=aware)
    if not aware:
        parsed = localize(parsed, timezone)
    return _utc(parsed)


def _iso_with_offset(text: pd.Series) -> np.ndarray:
    return _utc(
        pd.to_datetime(
            text.str.replace(",", ".", regex=False), format="ISO8601", utc=True, errors="coerce"
        )
    )


def _iso_naive(text: pd.Series, timezone) -> np.ndarray:
    parsed = pd.to_datetime(
        text.str.replace(",", ".", regex=False), format="ISO8601", errors="coerce"
    )
    return _utc(localize(parsed, timezone))


def _rfc2822(text: pd.Series) -> np.ndarray:
    out = []
    for value in text:
        zone = RFC2822.fullmatch(value).group("zone")
        if zone and zone.isalpha() and zone.upper() not in RFC2822_ZONES:
            out.append(np.datetime64("NaT"))  # a zone name with no single meaning (CET, IST)
            continue
        try:
            instant = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            out.append(np.datetime64("NaT"))
            continue
        if instant.tzinfo is None and zone is None:
            out.append(np.datetime64("NaT"))  # no zone: left to the naive readers
            continue
        instant = instant if instant.tzinfo else instant.replace(tzinfo=dt.UTC)  # -0000
        out.append(np.datetime64(instant.astimezone(dt.UTC).replace(tzinfo=None), "us"))
    return np.array(out, dtype="datetime64[us]")


def _zone_suffix(text: pd.Series) -> np.ndarray:
    out = []
    for value in text:
        match = ZONE_SUFFIX.fullmatch(value)
        zone = _zone(match.group("zone"))
        body = match.group("body").strip()
        if zone is None or not (ISO_NAIVE.fullmatch(body) or MONTH_WORDS.search(body)):
            out.append(np.datetime64("NaT"))
            continue
        local = _month_words(body, "UTC") if MONTH_WORDS.search(body) else None
        naive = pd.Timestamp(local) if local is not None else pd.to_datetime(body, errors="coerce")
        if pd.isna(naive):
            out.append(np.datetime64("NaT"))
            continue
        instant = localize(pd.Series([naive]), zone).iloc[0]
        out.append(np.datetime64(instant.tz_localize(None), "us"))
    return np.array(out, dtype="datetime64[us]")


def _month_words(value: str, timezone) -> np.datetime64:
    """A date with an English month name and a four-digit year; NaT for anything else."""
    from dateutil import parser

    rest = OTHER_WORDS.sub(" ", MONTH_WORDS.sub(" ", value))
    if re.search(r"[A-Za-z]", rest) or not re.search(r"(?<!\d)\d{4}(?!\d)", value):
        return np.datetime64("NaT")
    try:
        naive = parser.parse(value)
    except (ValueError, OverflowError):
        return np.datetime64("NaT")
    if naive.tzinfo is not None:
        return np.datetime64("NaT")
    return localize(pd.Series([pd.Timestamp(naive)]), timezone).to_numpy("datetime64[us]")[0]


def _numbers(text: pd.Series, epoch_unit, window, column, timezone) -> np.ndarray:
    numbers = pd.to_numeric(text).to_numpy(float)
    return _from_numbers(numbers, epoch_unit, window, column, timezone)[0]


def _from_numbers(
    numbers: np.ndarray, epoch_unit, window, column, timezone="UTC"
) -> tuple[np.ndarray, np.ndarray]:
    """Epochs (by magnitude, or in ``epoch_unit``) or compact dates, whichever is plausible."""
    numbers = np.asarray(numbers, dtype=float)
    finite = np.isfinite(numbers)
    epoch = _epochs(numbers, epoch_unit)
    compact = np.full(len(numbers), np.datetime64("NaT"), "datetime64[us]")
    if epoch_unit is None:
        compact = _utc(localize(pd.Series(_compact(numbers)), timezone))
    low, high = (np.datetime64(w.tz_convert("UTC").tz_localize(None), "us") for w in window)
    in_epoch = (epoch >= low) & (epoch <= high)
    in_compact = (compact >= low) & (compact <= high)
    both = in_epoch & in_compact
    if both.any():
        raise AmbiguousTimestamps(
            f"column {column!r}: {int(both.sum())} value(s) read both as a compact date "
            f"(yyyymmdd) and as an epoch inside the plausible window; state timestamp_format "
            f"('%Y%m%d') or epoch_unit"
        )
    chosen = np.where(in_compact | (~in_epoch & ~np.isnat(compact)), compact, epoch)
    return chosen, finite & np.isnat(chosen)


def _epochs(numbers: np.ndarray, unit: str | None) -> np.ndarray:
    """Epoch numbers to datetime64[us]; unit by magnitude when None; NaT when unrepresentable."""
    size = np.abs(numbers)
    if unit is None:
        scale = np.select([size < 1e11, size < 1e14, size < 1e17], [1e6, 1e3, 1.0], 1e-3)
    else:
        scale = np.full(len(numbers), {"s": 1e6, "ms": 1e3, "us": 1.0, "ns": 1e-3}[unit])
    micros = numbers * scale
    ok = np.isfinite(micros) & (np.abs(micros) < 9.2e18)
    out = np.full(len(numbers), np.datetime64("NaT"), dtype="datetime64[us]")
    out[ok] = micros[ok].astype(np.int64).astype("datetime64[us]")
    return out


def _compact(numbers: np.ndarray) -> np.ndarray:
    """yyyymmdd, yyyymmddHHMM and yyyymmddHHMMSS integers as datetime64[us] (else NaT)."""
    out = np.full(len(numbers), np.datetime64("NaT"), dtype="datetime64[us]")
    integral = np.isfinite(numbers) & (numbers > 0) & (np.mod(numbers, 1) == 0)
    for low, high, shift in ((1e7, 1e8, 0), (1e11, 1e12, 4), (1e13, 1e14, 6)):
        at = np.flatnonzero(integral & (numbers >= low) & (numbers < high))
        if len(at) == 0:
            continue
        value = numbers[at].astype(np.int64)
        time = value % 10**shift
        date = value // 10**shift
        parts = pd.DataFrame(
            {
                "year": date // 10000,
                "month": date // 100 % 100,
                "day": date % 100,
                "hour": time // 10 ** (shift - 2) if shift else 0,
                "minute": time // 10 ** (shift - 4) % 100 if shift else 0,
                "second": time % 100 if shift == 6 else 0,
            }
        )
        valid = parts["hour"].lt(24) & parts["minute"].lt(60) & parts["second"].lt(60)
        parsed = pd.to_datetime(parts.where(valid), errors="coerce")
        out[at] = parsed.to_numpy("datetime64[us]")
    return out
