"""Redaction of personal data in free text: e-mail addresses, phone numbers, IP addresses, cards.

Every string that reaches the curated layer or a quarantine record goes through
``redact_value`` (``redact_text`` for a column, once per distinct value): e-mail addresses
become ``[email]``, Luhn-valid card numbers ``[card]``, IPv6 (full, compressed, with an
embedded IPv4 or a zone) and IPv4 addresses ``[ip]``, phone numbers ``[phone]``.
"""

from __future__ import annotations

import re

import pandas as pd

from workbench.data.standardize import map_distinct

EMAIL_PATTERN = r"[\w.%+'-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}"
_IPV4 = r"(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)"
IPV4_PATTERN = rf"(?<![\d.]){_IPV4}(?![\d.])"
_H = r"[0-9A-Fa-f]{1,4}"
IPV6_PATTERN = (
    r"(?<![\w:.])(?:"
    rf"(?:{_H}:){{6}}{_IPV4}|"
    rf"(?:{_H}:){{7}}{_H}|"
    rf"(?:{_H}:){{1,5}}(?::{_H}){{0,4}}:{_IPV4}|"
    rf"::(?:{_H}:){{0,5}}{_IPV4}|"
    rf"(?:{_H}:){{1,7}}:(?:{_H}(?::{_H}){{0,5}})?|"
    rf"::(?:{_H}(?::{_H}){{0,6}})?"
    r")(?:%[0-9A-Za-z._-]+)?(?![\w:])"
)
PHONE_PATTERN = r"(?<![\w+])(?:\+|00)?\(?\d(?:[ ()./-]{0,2}\d){8,14}(?![\w])"
CARD_CANDIDATE = r"(?<![\w])\d(?:[ -]?\d){12,18}(?![\w])"

_EMAIL = re.compile(EMAIL_PATTERN)
_IPV6 = re.compile(IPV6_PATTERN)
_IPV4_RE = re.compile(IPV4_PATTERN)
_PHONE = re.compile(PHONE_PATTERN)
_CARD = re.compile(CARD_CANDIDATE)
_HINT = re.compile(r"[@:]|\d")


def luhn_valid(digits: str) -> bool:
    """Whether a string of digits passes the Luhn check (card numbers do)."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _card(match: re.Match) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return "[card]" if 13 <= len(digits) <= 19 and luhn_valid(digits) else match.group(0)


_DATE_LIKE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[/.]\d{1,2}[/.]\d{2,4}")


def _phone(match: re.Match) -> str:
    return match.group(0) if _DATE_LIKE.search(match.group(0)) else "[phone]"


def redact_value(value: str) -> str:
    """One string with e-mails, card numbers, IP addresses and phone numbers replaced."""
    if not _HINT.search(value):
        return value
    value = _EMAIL.sub("[email]", value)
    value = _CARD.sub(_card, value)
    value = _IPV6.sub("[ip]", value)
    value = _IPV4_RE.sub("[ip]", value)
    return _PHONE.sub(_phone, value)


def holds_personal_data(value: str) -> bool:
    """Whether ``redact_value`` would change ``value``."""
    return redact_value(value) != value


def redact_text(values: pd.Series) -> pd.Series:
    """``redact_value`` on every distinct string of a column (shape (n,), dtype str)."""
    return map_distinct(values.astype("str"), redact_value).astype("str")


def redact_lists(values: pd.Series) -> pd.Series:
    """``redact_value`` on every string of a column of lists (item categories)."""

    def clean(entry):
        if isinstance(entry, (list, tuple)) or hasattr(entry, "tolist"):
            return [redact_value(str(v)) for v in list(entry)]
        return entry

    return values.map(clean)
