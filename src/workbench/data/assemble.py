"""What curation hands back: the curated tables, the quarantine, field issues and counts.

``assemble`` turns the ``triage.TablePart`` of every input table into a ``Curation``:
contract-only, pseudonymized, redacted tables validated against the contract; quarantine
records sanitized the same way; counts that reconcile per table (or ``ReconciliationError``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pandera.errors import SchemaErrors

from workbench.data import output, privacy, retail
from workbench.data.contract import EVENTS, TIMESTAMP_DTYPE, validate_table
from workbench.data.fields import IDENTITY_FIELDS, SPECS
from workbench.data.quality import (
    empty_issues,
    empty_quarantine,
    quarantine_records,
    reconcile,
    source_name,
)
from workbench.data.settings import CONSENT_COLUMNS, CurationSettings
from workbench.data.triage import TablePart

log = logging.getLogger(__name__)


@dataclass
class Curation:
    """The outcome of curation.

    Attributes
    ----------
    tables : dict of str to DataFrame
        Curated ``events``, ``users``, ``items``, ``consent``, the ``user_merges`` audit and
        the ``merge_candidates`` left for review.
    quarantine : DataFrame
        One row per rejected input row (``QUARANTINE_COLUMNS``).
    issues : DataFrame
        One row per optional value set to null (``quality.ISSUE_COLUMNS``).
    counts : dict of str to int
        ``<table>_in``, ``_curated``, ``_quarantined``, ``_duplicates``, ``_erased`` per
        table, ``<table>_reason_<reason>`` and ``<table>_issue_<issue>``; they reconcile.
    event_rows : ndarray of int64, shape (n_events,)
        Source row of each curated event, for quarantine records made later.
    dropped_columns : dict of str to list of str
        Columns of each input table left out of the curated layer.
    """

    tables: dict[str, pd.DataFrame]
    quarantine: pd.DataFrame
    counts: dict[str, int] = field(default_factory=dict)
    event_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    issues: pd.DataFrame = field(default_factory=empty_issues)
    dropped_columns: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class Parts:
    """Every table in flight, with the linkage outcome and the keyed id columns."""

    events: TablePart
    users: TablePart | None
    items: TablePart | None
    consent: TablePart | None
    merges: pd.DataFrame
    review: pd.DataFrame
    keyed: tuple[str, ...]

    def all(self) -> list[TablePart]:
        return [p for p in (self.users, self.items, self.consent, self.events) if p is not None]


def assemble(parts: Parts, settings: CurationSettings, key: bytes) -> Curation:
    """Curated tables, quarantine, field issues and reconciled counts from the parts.

    Raises
    ------
    ContractError
        When a curated table breaks the contract.
    ReconciliationError
        When a table's counts do not add up.
    """
    consent_table = None
    if parts.consent is not None:
        consent_table = parts.consent.curated()[list(CONSENT_COLUMNS)].astype({"granted": bool})
    event_table = _events_table(parts.events, settings, parts.keyed)
    user_rows = (
        parts.users.curated() if parts.users is not None else _users_from_events(event_table)
    )
    flags = privacy.consent_flags(user_rows["user_id"], consent_table, settings.consent_default)
    tables = {
        "events": _validate_events(event_table),
        "users": validate_table(
            output.users_table(user_rows, flags, settings.user_columns), "users"
        ),
    }
    if parts.items is not None:
        tables["items"] = validate_table(
            output.items_table(parts.items.curated(), settings.item_columns), "items"
        )
    if consent_table is not None:
        tables["consent"] = validate_table(consent_table, "consent")
    tables["user_merges"] = _pseudonymized(parts.merges, ("user_id", "merged_into"), key)
    tables["merge_candidates"] = _pseudonymized(parts.review, ("user_id", "candidate_id"), key)
    return Curation(
        tables=tables,
        quarantine=_quarantine(parts, key),
        counts=_counts(parts, settings),
        event_rows=np.flatnonzero(parts.events.kept).astype(np.int64),
        issues=_issues(parts.all()),
        dropped_columns=_dropped(parts.all(), settings),
    )


def _quarantine(parts: Parts, key: bytes) -> pd.DataFrame:
    """Sanitized records of every rejected row (nothing of erased users)."""
    frames = []
    for part in parts.all():
        sanitize = output.sanitizer(SPECS[part.name], key, parts.merges, parts.keyed)
        records = quarantine_records(part.raw, part.verdicts, part.name, sanitize, part.erased)
        if len(records):
            frames.append(records)
    return pd.concat(frames, ignore_index=True) if frames else empty_quarantine()


def _counts(parts: Parts, settings: CurationSettings) -> dict[str, int]:
    """Every part's counts, reconciled, with the linkage figures and the source's own."""
    counts: dict[str, int] = {}
    for part in parts.all():
        counts |= part.counts()
        reconcile(counts, part.name)
        if part.verdicts.rejected.any():
            log.warning("%s: quarantined %s", part.name, part.verdicts.counts())
    counts["users_merged"] = len(parts.merges)
    counts["users_merge_candidates"] = len(parts.review)
    rules = settings.source_rules
    if rules is not None and rules.raw_counts is not None:
        counts |= rules.raw_counts(parts.events.raw)
    return counts


def _users_from_events(events: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"user_id": pd.unique(events["user_id"])}).astype("str")


def _events_table(events: TablePart, settings: CurationSettings, keyed) -> pd.DataFrame:
    table = events.curated()
    table["timestamp"] = table["timestamp"].astype(TIMESTAMP_DTYPE)
    for column in ("value", "revenue"):
        table[column] = table[column].astype(float) if column in table else np.nan
    if (table["event_type"] == "return").any():
        table["return_of"] = retail.link_returns(table)
    table = privacy.allow_columns(table, settings.event_columns, "events")
    return output.events_strings(table.copy(deep=False), keyed)


def _issues(parts: list[TablePart]) -> pd.DataFrame:
    frames = []
    for part in parts:
        users = part.typed["user_id"] if "user_id" in part.typed else None
        table = part.issues.table(part.name, source_name(part.raw, part.name), users)
        if len(table):
            frames.append(table[~part.erased[table["row"].to_numpy()]])
    return pd.concat(frames, ignore_index=True) if frames else empty_issues()


def _dropped(parts: list[TablePart], settings: CurationSettings) -> dict[str, list[str]]:
    allowed = {
        "events": settings.event_columns,
        "users": (*settings.user_columns, *IDENTITY_FIELDS),
        "items": settings.item_columns,
        "consent": CONSENT_COLUMNS,
    }
    dropped = {p.name: output.dropped_columns(p.raw, allowed[p.name]) for p in parts}
    for name, columns in dropped.items():
        if columns:
            log.info("%s: columns left out of the curated layer: %s", name, columns)
    return {name: columns for name, columns in dropped.items() if columns}


def _validate_events(events: pd.DataFrame) -> pd.DataFrame:
    """The events contract, but for ``event_id`` uniqueness, which deduplication ensured.

    Checking uniqueness again costs as much as the rest of curation on 10M events. When a
    check fails the full contract runs again for its message.
    """
    try:
        return EVENTS.update_column("event_id", unique=False).validate(events, lazy=True)
    except SchemaErrors:
        return validate_table(events, "events")


def _pseudonymized(frame: pd.DataFrame, columns, key: bytes) -> pd.DataFrame:
    """An audit table (merges, candidates) with pseudonymized user ids."""
    audit = frame.copy()
    for column in columns:
        audit[column] = privacy.pseudonymize(audit[column].astype("str"), key)
    return audit
