"""Curation: raw contract tables in, typed curated tables and a quarantine out.

Every input row ends in exactly one place: curated, quarantined with a reason and the column
at fault, or dropped as a duplicate of a kept row. ``Curation.counts`` reconciles them per
table and ``curate`` raises if they do not add up.

The steps, each a function of its own module: whole-input checks and row validation
(``quality``), standardization (``standardize``), the rules the source declares
(``CurationSettings.source_rules``, such as ``retail.invoice_lines``), links from returns to
purchases (``retail``), exact and fuzzy deduplication (``dedup``), consent, pseudonymization,
allow-listed columns and redaction (``privacy``). Only pseudonymized user ids leave this
function: in the tables, the quarantine records and the audit of merged users.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from pandera.errors import SchemaErrors

from workbench.data import dedup, privacy, retail
from workbench.data.contract import EVENTS, TIMESTAMP_DTYPE, validate_table
from workbench.data.quality import (
    QUARANTINE_COLUMNS,
    SPECS,
    ReconciliationError,
    Verdicts,
    check_input,
    empty_quarantine,
    flag_event_ranges,
    flag_unknown,
    quarantine_records,
    reconcile,
    type_rows,
)
from workbench.data.standardize import normalize_column_names

if TYPE_CHECKING:
    from workbench.data.sources.base import CurationRules

log = logging.getLogger(__name__)

__all__ = [
    "QUARANTINE_COLUMNS",
    "Curation",
    "CurationSettings",
    "ReconciliationError",
    "curate",
]

EVENT_COLUMNS = (
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
    "return_of",
)
USER_COLUMNS = (
    "user_id",
    "age",
    "gender",
    "occupation",
    "country",
    "signup_time",
    "planted_segment",
    "personalization_allowed",
    "analytics_allowed",
)
CONSENT_COLUMNS = ("user_id", "purpose", "granted", "timestamp")
REQUIRED_EVENT_COLUMNS = SPECS["events"].required
EVENT_SYNONYMS = {
    "buy": "purchase",
    "order": "purchase",
    "transaction": "purchase",
    "add to cart": "add_to_cart",
    "add-to-cart": "add_to_cart",
    "addtocart": "add_to_cart",
    "cart": "add_to_cart",
    "pageview": "view",
    "page view": "view",
    "impression": "view",
    "rate": "rating",
    "refund": "return",
    "cancellation": "return",
}


@dataclass(frozen=True)
class CurationSettings:
    """How raw tables are curated (everything a source or configuration may change).

    Attributes
    ----------
    event_columns, user_columns : tuple of str
        Allow-lists of the columns that reach the curated layer.
    source_timezone : str
        IANA zone of naive local timestamps.
    timestamp_format : str, optional
        ``strptime`` format of naive timestamps; ISO 8601 when None.
    epoch_unit : str
        Unit of epoch timestamps.
    as_of : str, optional
        Timestamps after this instant (plus ``future_tolerance_seconds``) are in the future;
        the time of the run when None.
    rating_scale : (float, float)
        Smallest and largest valid rating.
    synonyms : dict of str to dict
        Per categorical column, variant -> canonical value.
    country_aliases : dict of str to str
        Extra country names -> ISO alpha-2 codes.
    dedup_keys : tuple of str
        Columns equal in exact duplicate events; ``dedup_tolerance_seconds`` apart at most.
    fuzzy_fields, fuzzy_threshold
        User columns compared to find one person under two ids, and the score (0-100)
        above which they are merged.
    pseudonym_key : bytes, optional
        HMAC key of user pseudonyms. When None a random key is used for this call only:
        nothing leaks, but pseudonyms then change between runs (a warning says so).
    consent_default : bool
        Consent of every user when a source has no consent table at all.
    erased : frozenset of str
        Pseudonyms erased by ``privacy.forget``: their rows are quarantined as ``erased``,
        with no values kept.
    source_rules : CurationRules, optional
        The curation steps the source declares for its own data (``Source.curation``);
        ``ingest.default_settings`` sets them.
    """

    event_columns: tuple[str, ...] = EVENT_COLUMNS
    user_columns: tuple[str, ...] = USER_COLUMNS
    source_timezone: str = "UTC"
    timestamp_format: str | None = None
    epoch_unit: str = "s"
    as_of: str | None = None
    future_tolerance_seconds: float = 3600.0
    rating_scale: tuple[float, float] = (0.5, 5.0)
    synonyms: dict = field(default_factory=lambda: {"event_type": dict(EVENT_SYNONYMS)})
    country_aliases: dict = field(default_factory=dict)
    dedup_keys: tuple[str, ...] = dedup.DEFAULT_EVENT_KEYS
    dedup_tolerance_seconds: float = 1.0
    fuzzy_fields: tuple[str, ...] = ("name", "email", "address")
    fuzzy_threshold: float = 90.0
    pseudonym_key: bytes | None = None
    consent_default: bool = True
    erased: frozenset = frozenset()
    source_rules: CurationRules | None = None

    def now(self) -> pd.Timestamp:
        """The latest valid timestamp."""
        origin = pd.Timestamp(self.as_of) if self.as_of else pd.Timestamp.now(tz="UTC")
        origin = origin.tz_localize("UTC") if origin.tzinfo is None else origin
        return origin + pd.Timedelta(seconds=self.future_tolerance_seconds)


@dataclass
class Curation:
    """The outcome of curation.

    Attributes
    ----------
    tables : dict of str to DataFrame
        Curated ``events``, ``users``, ``items``, ``consent`` and the ``user_merges`` audit.
    quarantine : DataFrame
        One row per rejected input row (``QUARANTINE_COLUMNS``).
    counts : dict of str to int
        ``<table>_in``, ``_curated``, ``_quarantined``, ``_duplicates`` per table and
        ``<table>_reason_<reason>`` per quarantine reason; they reconcile.
    event_rows : ndarray of int64, shape (n_events,)
        Source row of each curated event, for quarantine records made later.
    """

    tables: dict[str, pd.DataFrame]
    quarantine: pd.DataFrame
    counts: dict[str, int] = field(default_factory=dict)
    event_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


@dataclass
class _Part:
    """One table in flight: as delivered, typed, and the fate of each row."""

    name: str
    raw: pd.DataFrame
    typed: pd.DataFrame
    verdicts: Verdicts
    duplicate: np.ndarray

    @property
    def kept(self) -> np.ndarray:
        return ~self.verdicts.rejected & ~self.duplicate

    def curated(self) -> pd.DataFrame:
        kept = self.kept
        return self.typed if kept.all() else self.typed[kept].reset_index(drop=True)

    def counts(self) -> dict[str, int]:
        counts = {
            f"{self.name}_in": len(self.raw),
            f"{self.name}_curated": int(self.kept.sum()),
            f"{self.name}_quarantined": int(self.verdicts.rejected.sum()),
            f"{self.name}_duplicates": int(self.duplicate.sum()),
        }
        reasons = self.verdicts.counts()
        return counts | {f"{self.name}_reason_{r}": n for r, n in reasons.items()}


def _prepare(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """The raw table with clean column names, checked as a whole."""
    prepared = frame.reset_index(drop=True)
    prepared.columns = normalize_column_names(list(prepared.columns))
    prepared.attrs = dict(frame.attrs)
    check_input(prepared, name, SPECS[name].required)
    return prepared


def _start(raw: pd.DataFrame, name: str, settings: CurationSettings) -> _Part:
    typed, verdicts = type_rows(raw, SPECS[name], settings)
    return _Part(name, raw, typed, verdicts, np.zeros(len(raw), dtype=bool))


def _mark_duplicate_keys(part: _Part, key: str) -> None:
    """Later rows repeating the key of a kept row are duplicates."""
    candidates = np.flatnonzero(part.kept)
    repeated = dedup.duplicate_ids(_rows(part.typed[key], candidates))
    part.duplicate[candidates[repeated]] = True


def _rows(data, positions: np.ndarray):
    """The rows of a frame or series at ``positions``; itself, uncopied, when that is all."""
    return data if len(positions) == len(data) else data.iloc[positions]


def _pseudonymize_users(part: _Part, merges: pd.DataFrame, settings, key: bytes) -> None:
    """Canonical, pseudonymized user ids; rows of erased users quarantined as ``erased``."""
    canonical = dedup.apply_merges(part.typed["user_id"], merges)
    part.typed["user_id"] = privacy.pseudonymize(canonical, key)
    if settings.erased:
        erased = part.typed["user_id"].isin(settings.erased).to_numpy(bool)
        part.verdicts.reason[erased] = 0
        part.verdicts.flag(erased, "erased", "user_id")
        part.duplicate[erased] = False


def _curate_users(raw: pd.DataFrame, settings: CurationSettings) -> tuple[_Part, pd.DataFrame]:
    """Users typed and unique; fuzzy matches resolved into an audit of merges (raw ids)."""
    part = _start(raw, "users", settings)
    _mark_duplicate_keys(part, "user_id")
    kept = part.typed[part.kept]
    merges = dedup.resolve_users(kept, settings.fuzzy_fields, settings.fuzzy_threshold)
    part.duplicate[part.kept & part.typed["user_id"].isin(merges["user_id"]).to_numpy(bool)] = True
    return part, merges


def _curate_events(raw, settings, known_users, known_items) -> _Part:
    """Events typed, the source's rules applied, checked, unknown ids and duplicates marked."""
    part = _start(raw, "events", settings)
    if settings.source_rules is not None:
        part.typed = settings.source_rules.prepare_events(part.typed, part.verdicts)
    flag_event_ranges(part.verdicts, part.typed, settings.rating_scale)
    flag_unknown(part.verdicts, part.typed["user_id"], known_users, "unknown_user", "user_id")
    flag_unknown(part.verdicts, part.typed["item_id"], known_items, "unknown_item", "item_id")
    if "event_id" not in part.typed:
        part.typed["event_id"] = _derived_event_ids(part.typed)
    return part


def _mark_duplicate_events(part: _Part, settings: CurationSettings) -> None:
    """Repeated event ids, then repeated events (keys within the tolerance)."""
    _mark_duplicate_keys(part, "event_id")
    candidates = np.flatnonzero(part.kept)
    columns = [c for c in (*settings.dedup_keys, "timestamp") if c in part.typed]
    repeated = dedup.duplicate_events(
        _rows(part.typed[columns], candidates),
        settings.dedup_keys,
        settings.dedup_tolerance_seconds,
    )
    part.duplicate[candidates[repeated]] = True


def _derived_event_ids(events: pd.DataFrame) -> pd.Series:
    """Stable ids from an event's content, for sources without ids (shape (n,))."""
    columns = [c for c in ("user_id", "item_id", "event_type", "timestamp", "value") if c in events]
    hashed = pd.util.hash_pandas_object(events[columns], index=False).to_numpy()
    return pd.Series(np.char.mod("e%016x", hashed), index=events.index, dtype="str")


def _curate_consent(raw, settings, known_users) -> _Part:
    part = _start(raw, "consent", settings)
    purpose_ok = part.typed["purpose"].isin(privacy.PURPOSES).to_numpy(bool)
    part.verdicts.flag(~purpose_ok, "out_of_range", "purpose")
    flag_unknown(part.verdicts, part.typed["user_id"], known_users, "unknown_user", "user_id")
    return part


def _sanitizer(key: bytes, merges: pd.DataFrame):
    """What quarantine records keep: pseudonymized users, no PII columns, redacted text."""

    def sanitize(rows: pd.DataFrame) -> pd.DataFrame:
        rows = rows.copy()
        for column in rows.columns:
            if column == "user_id":
                ids = rows[column].astype("str").str.strip()
                rows[column] = privacy.pseudonymize(dedup.apply_merges(ids, merges), key)
            elif column.lower() in privacy.PII_COLUMNS:
                rows[column] = rows[column].where(rows[column].isna(), "[redacted]")
            elif pd.api.types.is_string_dtype(rows[column].dtype):
                rows[column] = privacy.redact_text(rows[column])
        return rows

    return sanitize


def _users_table(users: _Part | None, events: pd.DataFrame, consent, settings) -> pd.DataFrame:
    """Curated users (derived from events when the source has none) with consent flags."""
    if users is None:
        table = pd.DataFrame({"user_id": pd.unique(events["user_id"])}).astype("str")
    else:
        table = users.curated()
    flags = privacy.consent_flags(table["user_id"], consent, settings.consent_default)
    table = pd.concat([table, flags], axis=1)
    return privacy.allow_columns(table, settings.user_columns, "users")


def _items_table(items: _Part) -> pd.DataFrame:
    table = items.curated()
    table = table.drop(columns=[c for c in table if c.lower() in privacy.PII_COLUMNS])
    for column in ("title", "text"):
        values = table[column] if column in table else pd.Series(pd.NA, index=table.index)
        table[column] = privacy.redact_text(values)
    if "categories" not in table:
        table["categories"] = [[] for _ in range(len(table))]
    return table


def _events_table(events: _Part, settings: CurationSettings) -> pd.DataFrame:
    table = events.curated()
    table["timestamp"] = table["timestamp"].astype(TIMESTAMP_DTYPE)
    for column in ("value", "revenue"):
        table[column] = table[column].astype(float) if column in table else np.nan
    if (table["event_type"] == "return").any():
        table["return_of"] = retail.link_returns(table)
    return privacy.allow_columns(table, settings.event_columns, "events")


def _key(settings: CurationSettings) -> bytes:
    if settings.pseudonym_key:
        return settings.pseudonym_key
    log.warning("no pseudonym_key: using a random key, pseudonyms will differ between runs")
    return privacy.generate_key()


def curate(raw: dict[str, pd.DataFrame], settings: CurationSettings | None = None) -> Curation:
    """Curate raw contract tables.

    Parameters
    ----------
    raw : dict of str to DataFrame
        ``events`` (required), ``users``, ``items``, ``consent`` as a source produced them:
        typed or text columns, named as in the contract (``frame.attrs["source_file"]``
        names the file in messages and quarantine records).
    settings : CurationSettings, optional

    Returns
    -------
    Curation

    Raises
    ------
    InputError
        When a whole table is unusable (empty, a required column missing, wrong delimiter).
    ContractError
        When a curated table still breaks the contract (a bug in curation, not in the data).
    ReconciliationError
        When the counts do not add up.
    """
    settings = settings or CurationSettings()
    key = _key(settings)
    tables = {name: _prepare(frame, name) for name, frame in raw.items() if name in SPECS}
    items = _start(tables["items"], "items", settings) if "items" in tables else None
    if items is not None:
        _mark_duplicate_keys(items, "item_id")
    users, merges = (
        _curate_users(tables["users"], settings)
        if "users" in tables
        else (None, dedup.empty_merges())
    )
    known_users = (
        None if users is None else users.typed.loc[users.kept | users.duplicate, "user_id"]
    )
    known_items = None if items is None else items.curated()["item_id"]
    events = _curate_events(tables["events"], settings, known_users, known_items)
    consent = (
        _curate_consent(tables["consent"], settings, known_users) if "consent" in tables else None
    )
    parts = [p for p in (users, items, consent, events) if p is not None]
    for part in parts:
        if "user_id" in part.typed:
            _pseudonymize_users(part, merges, settings, key)
    _mark_duplicate_events(events, settings)
    return _assemble(parts, events, users, items, consent, merges, settings, key)


def _assemble(parts, events, users, items, consent, merges, settings, key) -> Curation:
    """Curated tables, quarantine and reconciled counts from the parts in flight."""
    consent_table = None
    if consent is not None:
        consent_table = consent.curated()[list(CONSENT_COLUMNS)].astype({"granted": bool})
    event_table = _events_table(events, settings)
    tables = {
        "events": _validate_events(event_table),
        "users": validate_table(_users_table(users, event_table, consent_table, settings), "users"),
    }
    if items is not None:
        tables["items"] = validate_table(_items_table(items), "items")
    if consent_table is not None:
        tables["consent"] = validate_table(consent_table, "consent")
    tables["user_merges"] = _merge_audit(merges, key)
    sanitize = _sanitizer(key, merges)
    quarantine = [quarantine_records(p.raw, p.verdicts, p.name, sanitize) for p in parts]
    counts: dict[str, int] = {}
    for part in parts:
        counts |= part.counts()
        reconcile(counts, part.name)
        if part.verdicts.rejected.any():
            log.warning("%s: quarantined %s", part.name, part.verdicts.counts())
    counts["users_merged"] = len(merges)
    rules = settings.source_rules
    if rules is not None and rules.raw_counts is not None:
        counts |= rules.raw_counts(events.raw)
    frames = [q for q in quarantine if len(q)]
    quarantine_table = pd.concat(frames, ignore_index=True) if frames else empty_quarantine()
    rows = np.flatnonzero(events.kept).astype(np.int64)
    return Curation(tables=tables, quarantine=quarantine_table, counts=counts, event_rows=rows)


def _validate_events(events: pd.DataFrame) -> pd.DataFrame:
    """The events contract, but for ``event_id`` uniqueness, which deduplication ensured.

    Checking uniqueness again costs as much as the rest of curation on 10M events. When a
    check fails the full contract runs again for its message.
    """
    try:
        return EVENTS.update_column("event_id", unique=False).validate(events, lazy=True)
    except SchemaErrors:
        return validate_table(events, "events")


def _merge_audit(merges: pd.DataFrame, key: bytes) -> pd.DataFrame:
    """The audit of merged users with pseudonymized ids."""
    audit = merges.copy()
    for column in ("user_id", "merged_into"):
        audit[column] = privacy.pseudonymize(audit[column].astype("str"), key)
    return audit.reindex(columns=list(dedup.MERGE_COLUMNS))
