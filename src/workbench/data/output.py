"""What leaves curation: contract columns only, pseudonymized ids, redacted strings.

- The curated tables keep their allow-listed (contract) columns; every other column is
  dropped and listed (``dropped_columns``).
- User ids are HMAC pseudonyms; session ids are always keyed pseudonyms (they are often built
  from user ids); event ids become keyed pseudonyms when they embed user ids or e-mails.
- Every other string, in the curated tables and in quarantine records, is redacted
  (``redaction``): e-mail addresses, phone numbers, IP addresses, card numbers.
- Quarantine records hold the contract columns of their table only, sanitized the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pandas as pd

from workbench.data import dedup, privacy
from workbench.data.fields import TableSpec
from workbench.data.redaction import redact_lists, redact_text
from workbench.data.standardize import canonical_ids

ID_PREFIXES = {"session_id": "s", "event_id": "e"}


def dropped_columns(raw: pd.DataFrame, allowed: Iterable[str]) -> list[str]:
    """The columns of a raw table that the curated layer will not hold."""
    allowed = set(allowed)
    return [str(c) for c in raw.columns if c not in allowed]


def keyed_id_columns(events: pd.DataFrame) -> tuple[str, ...]:
    """Id columns of ``events`` (raw user ids still in place) to replace by keyed pseudonyms.

    ``session_id`` always; ``event_id`` when it embeds a user id or an e-mail address.
    """
    columns = ["session_id"] if "session_id" in events else []
    if "event_id" in events and privacy.embeds_user_ids(events["event_id"], events["user_id"]):
        columns.append("event_id")
    return tuple(columns)


def pseudonymize_id_columns(frame: pd.DataFrame, key: bytes, columns: Iterable[str]) -> None:
    """Replace each of ``columns`` of ``frame`` (in place) by keyed pseudonyms."""
    for column in columns:
        if column in frame:
            frame[column] = privacy.keyed_ids(frame[column], key, ID_PREFIXES.get(column, "x"))


def redact_strings(frame: pd.DataFrame, skip: Iterable[str] = ()) -> pd.DataFrame:
    """``frame`` with every string column (and list column) redacted, but ``skip``."""
    skip = set(skip)
    for column in frame.columns:
        if column in skip:
            continue
        values = frame[column]
        if pd.api.types.is_string_dtype(values.dtype) and values.dtype != object:
            frame[column] = redact_text(values)
        elif values.dtype == object:
            sample = values.dropna().head(50)
            if len(sample) and sample.map(lambda v: isinstance(v, (list, tuple))).any():
                frame[column] = redact_lists(values)
            elif len(sample):
                frame[column] = values.map(
                    lambda v: privacy.redact_value(v) if isinstance(v, str) else v
                )
    return frame


def sanitizer(
    spec: TableSpec,
    key: bytes,
    merges: pd.DataFrame,
    keyed: Iterable[str] = (),
) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """What a quarantine record keeps of a raw row: contract columns, pseudonyms, redaction."""
    keyed = tuple(keyed)

    def sanitize(rows: pd.DataFrame) -> pd.DataFrame:
        rows = rows[[c for c in rows.columns if c in spec.contract]].copy()
        for column in spec.identifiers:
            if column in rows:
                rows[column] = canonical_ids(rows[column])[0]
        if "user_id" in rows:
            canonical = dedup.apply_merges(rows["user_id"], merges)
            rows["user_id"] = privacy.pseudonymize(canonical, key)
        pseudonymize_id_columns(rows, key, keyed)
        return redact_strings(rows, skip=("user_id", *keyed))

    return sanitize


def users_table(curated: pd.DataFrame, flags: pd.DataFrame, allowed) -> pd.DataFrame:
    """Curated users with consent flags, allow-listed columns, redacted strings."""
    table = pd.concat([curated.reset_index(drop=True), flags.reset_index(drop=True)], axis=1)
    table = privacy.allow_columns(table, allowed, "users")
    return redact_strings(table.copy(), skip=("user_id",))


def items_table(curated: pd.DataFrame, allowed) -> pd.DataFrame:
    """Curated items: contract columns, redacted title, text and categories."""
    table = privacy.allow_columns(curated, allowed, "items").copy()
    for column in ("title", "text"):
        if column not in table:
            table[column] = pd.Series(pd.NA, index=table.index, dtype="str")
    if "categories" not in table:
        table["categories"] = [[] for _ in range(len(table))]
    else:
        table["categories"] = table["categories"].map(_as_list)
    return redact_strings(table, skip=("item_id",))


def _as_list(value) -> list:
    if isinstance(value, str):
        return [v for v in value.split("|") if v]
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return []
    return [str(v) for v in list(value)]


def events_strings(events: pd.DataFrame, keyed: Iterable[str]) -> pd.DataFrame:
    """Curated events' free strings redacted (ids and pseudonyms left alone)."""
    skip = ("event_id", "user_id", "item_id", "event_type", "return_of", *keyed)
    return redact_strings(events, skip=skip)
