"""Curation: raw contract tables in, typed curated tables, a quarantine and field issues out.

Every input row ends in exactly one place: curated, quarantined with a reason and the column
at fault, dropped as a repeat of a kept row, or dropped because its user was erased (nothing
of it is kept, not even in the quarantine). ``Curation.counts`` reconciles them per table and
``curate`` raises if they do not add up. A bad optional attribute does not reject its row: it
becomes null and ``Curation.issues`` records where.

The steps, each a function of its own module: whole-input checks (``quality``), typing and
value checks (``fields``, ``timestamps``, ``standardize``), the rules the source declares
(``CurationSettings.source_rules``, such as ``retail.invoice_lines``), links from returns to
purchases (``retail``), repeated ids and content (``dedup``), entity resolution
(``linkage``), consent, pseudonyms, contract-only columns and redaction (``privacy``). Only
pseudonymized user ids leave this function.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from pandera.errors import SchemaErrors

from workbench.data import dedup, linkage, output, privacy, retail
from workbench.data.contract import EVENTS, TIMESTAMP_DTYPE, validate_table
from workbench.data.fields import IDENTITY_FIELDS, SPECS, type_rows
from workbench.data.quality import (
    QUARANTINE_COLUMNS,
    FieldIssues,
    ReconciliationError,
    Verdicts,
    check_input,
    empty_issues,
    empty_quarantine,
    flag_event_ranges,
    flag_unknown,
    quarantine_records,
    reconcile,
    source_name,
)
from workbench.data.standardize import normalize_column_names
from workbench.data.timestamps import DEFAULT_WINDOW_START

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
ITEM_COLUMNS = SPECS["items"].contract
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
    event_columns, user_columns, item_columns : tuple of str
        Allow-lists of the columns that reach the curated layer (others are dropped and
        listed in ``Curation.dropped_columns``).
    source_timezone : str
        IANA zone of naive local timestamps.
    timestamp_format : str, optional
        ``strptime`` format tried first; needed for day/month forms such as ``01/02/1997``.
    epoch_unit : {"s", "ms", "us", "ns"}, optional
        Unit of epoch numbers; told by magnitude when None.
    valid_from : str
        Earliest plausible timestamp; earlier ones are quarantined ``implausible_timestamp``.
    as_of, future_tolerance_seconds
        Timestamps after ``as_of`` (the time of the run when None) plus the tolerance (one day)
        are quarantined ``future_timestamp``.
    ranges : dict of str to (float, float)
        Plausible values per numeric column, over ``fields.DEFAULT_RANGES``.
    rating_scale : (float, float)
        Smallest and largest valid rating.
    synonyms : dict of str to dict
        Per categorical column, variant -> canonical value.
    country_aliases : dict of str to str
        Extra country names -> ISO alpha-2 codes.
    drop_content_duplicates : bool
        Drop events with other ids but equal ``dedup_keys`` within
        ``dedup_tolerance_seconds`` of the previous one. Off by default: in date-only data
        such rows are real repeat purchases.
    dedup_keys, dedup_tolerance_seconds
        The content rule's columns and tolerance.
    linkage : LinkageRules
        Entity resolution of user records (``linkage``).
    pseudonym_key : bytes, optional
        HMAC key of user pseudonyms. When None a random key is used for this call only:
        nothing leaks, but pseudonyms then change between runs (a warning says so).
    consent_default : bool
        Consent of every user when a source has no consent table at all.
    erased : frozenset of str
        Pseudonyms erased by ``privacy.forget``: their rows are dropped before anything is
        stored, quarantine included, and counted as ``<table>_erased``.
    source_rules : CurationRules, optional
        The curation steps the source declares for its own data (``Source.curation``).
    """

    event_columns: tuple[str, ...] = EVENT_COLUMNS
    user_columns: tuple[str, ...] = USER_COLUMNS
    item_columns: tuple[str, ...] = ITEM_COLUMNS
    source_timezone: str = "UTC"
    timestamp_format: str | None = None
    epoch_unit: str | None = None
    valid_from: str = DEFAULT_WINDOW_START
    as_of: str | None = None
    future_tolerance_seconds: float = 86_400.0
    ranges: dict = field(default_factory=dict)
    rating_scale: tuple[float, float] = (0.5, 5.0)
    synonyms: dict = field(default_factory=lambda: {"event_type": dict(EVENT_SYNONYMS)})
    country_aliases: dict = field(default_factory=dict)
    drop_content_duplicates: bool = False
    dedup_keys: tuple[str, ...] = dedup.DEFAULT_EVENT_KEYS
    dedup_tolerance_seconds: float = 1.0
    linkage: linkage.LinkageRules = field(default_factory=linkage.LinkageRules)
    pseudonym_key: bytes | None = None
    consent_default: bool = True
    erased: frozenset = frozenset()
    source_rules: CurationRules | None = None

    def now(self) -> pd.Timestamp:
        """The latest valid timestamp."""
        origin = pd.Timestamp(self.as_of) if self.as_of else pd.Timestamp.now(tz="UTC")
        origin = origin.tz_localize("UTC") if origin.tzinfo is None else origin
        return origin + pd.Timedelta(seconds=self.future_tolerance_seconds)

    def window(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        """The plausible window of timestamps: ``valid_from`` to ``now()``."""
        start = pd.Timestamp(self.valid_from)
        start = start.tz_localize("UTC") if start.tzinfo is None else start.tz_convert("UTC")
        return start, self.now()


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
class _Part:
    """One table in flight: as delivered, typed, and the fate of each row."""

    name: str
    raw: pd.DataFrame
    typed: pd.DataFrame
    verdicts: Verdicts
    issues: FieldIssues
    duplicate: np.ndarray
    erased: np.ndarray

    @property
    def kept(self) -> np.ndarray:
        return ~self.verdicts.rejected & ~self.duplicate & ~self.erased

    def curated(self) -> pd.DataFrame:
        kept = self.kept
        return self.typed if kept.all() else self.typed[kept].reset_index(drop=True)

    def counts(self) -> dict[str, int]:
        counts = {
            f"{self.name}_in": len(self.raw),
            f"{self.name}_curated": int(self.kept.sum()),
            f"{self.name}_quarantined": int((self.verdicts.rejected & ~self.erased).sum()),
            f"{self.name}_duplicates": int((self.duplicate & ~self.erased).sum()),
            f"{self.name}_erased": int(self.erased.sum()),
        }
        reasons = Verdicts(self.verdicts.reason * ~self.erased, self.verdicts.column).counts()
        counts |= {f"{self.name}_reason_{r}": n for r, n in reasons.items()}
        return counts | {f"{self.name}_issue_{i}": n for i, n in self.issues.counts().items()}


def _prepare(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """The raw table with clean column names, checked as a whole."""
    prepared = frame.reset_index(drop=True)
    prepared.columns = normalize_column_names(list(prepared.columns))
    prepared.attrs = dict(frame.attrs)
    check_input(prepared, name, SPECS[name].required, SPECS[name].contract)
    return prepared


def _start(raw: pd.DataFrame, name: str, settings: CurationSettings) -> _Part:
    typed, verdicts, issues = type_rows(raw, SPECS[name], settings)
    none = np.zeros(len(raw), dtype=bool)
    return _Part(name, raw, typed, verdicts, issues, none, none.copy())


def _mark_repeated_keys(part: _Part, key: str, conflicts_rejected: bool) -> None:
    """Exact repeats of a key are duplicates; a key on rows with other content is a conflict.

    Conflicting rows are all quarantined (``conflicting_duplicate``) when
    ``conflicts_rejected``; otherwise (users, items) the first is kept and each later row
    is a duplicate recorded as a field issue of the key.
    """
    candidates = np.flatnonzero(~part.erased & part.typed[key].notna().to_numpy(bool))
    ids = _rows(part.typed[key], candidates)
    duplicate, conflict = dedup.repeated_ids(ids, _rows(part.typed, candidates))
    rejected = part.verdicts.rejected[candidates]
    part.duplicate[candidates[duplicate & ~rejected]] = True
    if conflicts_rejected:
        part.verdicts.flag(_mask(len(part.raw), candidates[conflict]), "conflicting_duplicate", key)
        return
    later = conflict & dedup.duplicate_ids(ids)
    part.duplicate[candidates[later & ~rejected]] = True
    part.issues.add(_mask(len(part.raw), candidates[later]), key, "conflicting_duplicate")


def _mask(n_rows: int, positions: np.ndarray) -> np.ndarray:
    mask = np.zeros(n_rows, dtype=bool)
    mask[positions] = True
    return mask


def _rows(data, positions: np.ndarray):
    """The rows of a frame or series at ``positions``; itself, uncopied, when that is all."""
    return data if len(positions) == len(data) else data.iloc[positions]


def _erase_and_pseudonymize(part: _Part, merges: pd.DataFrame, settings, key: bytes) -> None:
    """Canonical, pseudonymized user ids; rows of erased users marked to be dropped."""
    raw_ids = part.typed["user_id"]
    canonical = dedup.apply_merges(raw_ids, merges)
    part.typed["user_id"] = privacy.pseudonymize(canonical, key)
    if settings.erased:
        own = privacy.pseudonymize(raw_ids, key).isin(settings.erased).to_numpy(bool)
        part.erased |= own | part.typed["user_id"].isin(settings.erased).to_numpy(bool)


def _curate_users(raw: pd.DataFrame, settings: CurationSettings):
    """Users typed and unique; records of one person linked (merges and review, raw ids)."""
    part = _start(raw, "users", settings)
    _mark_repeated_keys(part, "user_id", conflicts_rejected=False)
    kept = part.typed[part.kept]
    merges, review = linkage.resolve_users(kept, settings.linkage)
    part.duplicate[part.kept & part.typed["user_id"].isin(merges["user_id"]).to_numpy(bool)] = True
    return part, merges, review


def _curate_events(raw, settings, known_users, known_items) -> _Part:
    """Events typed, the source's rules applied, checked, unknown ids marked."""
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
    """Repeated event ids (exact or conflicting), then, when asked, repeated content."""
    _mark_repeated_keys(part, "event_id", conflicts_rejected=True)
    if not settings.drop_content_duplicates:
        return
    candidates = np.flatnonzero(part.kept)
    columns = [c for c in (*settings.dedup_keys, "timestamp") if c in part.typed]
    repeated = dedup.duplicate_events(
        _rows(part.typed[columns], candidates),
        settings.dedup_keys,
        settings.dedup_tolerance_seconds,
    )
    part.duplicate[candidates[repeated]] = True


def _derived_event_ids(events: pd.DataFrame) -> pd.Series:
    """Stable ids from an event's content and its occurrence, for sources without ids.

    Two equal rows get two ids (``e<hash>`` and ``e<hash>-1``): they are two events.
    """
    columns = [c for c in ("user_id", "item_id", "event_type", "timestamp", "value") if c in events]
    hashed = pd.util.hash_pandas_object(events[columns], index=False).to_numpy()
    ids = pd.Series(np.char.mod("e%016x", hashed), index=events.index, dtype="str")
    occurrence = pd.Series(hashed).groupby(hashed).cumcount().to_numpy()
    later = occurrence > 0
    if later.any():
        ids[later] = ids[later] + "-" + pd.Series(occurrence[later], dtype="str").to_numpy()
    return ids


def _curate_consent(raw, settings, known_users) -> _Part:
    part = _start(raw, "consent", settings)
    purpose_ok = part.typed["purpose"].isin(privacy.PURPOSES).to_numpy(bool)
    part.verdicts.flag(~purpose_ok, "out_of_range", "purpose")
    flag_unknown(part.verdicts, part.typed["user_id"], known_users, "unknown_user", "user_id")
    return part


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
        When a whole table is unusable (empty, a required column missing or repeated, no
        header, wrong delimiter, ambiguous timestamps).
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
        _mark_repeated_keys(items, "item_id", conflicts_rejected=False)
    users, merges, review = (
        _curate_users(tables["users"], settings)
        if "users" in tables
        else (None, dedup.empty_merges(), linkage.empty_review())
    )
    known_users = (
        None if users is None else users.typed.loc[users.kept | users.duplicate, "user_id"]
    )
    known_items = None if items is None else items.curated()["item_id"]
    events = _curate_events(tables["events"], settings, known_users, known_items)
    consent = (
        _curate_consent(tables["consent"], settings, known_users) if "consent" in tables else None
    )
    keyed = output.keyed_id_columns(events.typed)
    parts = [p for p in (users, items, consent, events) if p is not None]
    for part in parts:
        if "user_id" in part.typed:
            _erase_and_pseudonymize(part, merges, settings, key)
    output.pseudonymize_id_columns(events.typed, key, keyed)
    _mark_duplicate_events(events, settings)
    return _assemble(parts, events, users, items, consent, (merges, review), settings, key, keyed)


def _assemble(parts, events, users, items, consent, links, settings, key, keyed) -> Curation:
    """Curated tables, quarantine, field issues and reconciled counts from the parts."""
    merges, review = links
    consent_table = None
    if consent is not None:
        consent_table = consent.curated()[list(CONSENT_COLUMNS)].astype({"granted": bool})
    event_table = _events_table(events, settings, keyed)
    user_rows = users.curated() if users is not None else _users_from_events(event_table)
    flags = privacy.consent_flags(user_rows["user_id"], consent_table, settings.consent_default)
    tables = {
        "events": _validate_events(event_table),
        "users": validate_table(
            output.users_table(user_rows, flags, settings.user_columns), "users"
        ),
    }
    if items is not None:
        tables["items"] = validate_table(
            output.items_table(items.curated(), settings.item_columns), "items"
        )
    if consent_table is not None:
        tables["consent"] = validate_table(consent_table, "consent")
    tables["user_merges"] = _pseudonymized(merges, ("user_id", "merged_into"), key)
    tables["merge_candidates"] = _pseudonymized(review, ("user_id", "candidate_id"), key)
    specs = {p.name: SPECS[p.name] for p in parts}
    quarantine = [
        quarantine_records(
            p.raw, p.verdicts, p.name, output.sanitizer(specs[p.name], key, merges, keyed), p.erased
        )
        for p in parts
    ]
    counts: dict[str, int] = {}
    for part in parts:
        counts |= part.counts()
        reconcile(counts, part.name)
        if part.verdicts.rejected.any():
            log.warning("%s: quarantined %s", part.name, part.verdicts.counts())
    counts["users_merged"] = len(merges)
    counts["users_merge_candidates"] = len(review)
    rules = settings.source_rules
    if rules is not None and rules.raw_counts is not None:
        counts |= rules.raw_counts(events.raw)
    frames = [q for q in quarantine if len(q)]
    return Curation(
        tables=tables,
        quarantine=pd.concat(frames, ignore_index=True) if frames else empty_quarantine(),
        counts=counts,
        event_rows=np.flatnonzero(events.kept).astype(np.int64),
        issues=_issues(parts),
        dropped_columns=_dropped(parts, settings),
    )


def _users_from_events(events: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"user_id": pd.unique(events["user_id"])}).astype("str")


def _events_table(events: _Part, settings: CurationSettings, keyed) -> pd.DataFrame:
    table = events.curated()
    table["timestamp"] = table["timestamp"].astype(TIMESTAMP_DTYPE)
    for column in ("value", "revenue"):
        table[column] = table[column].astype(float) if column in table else np.nan
    if (table["event_type"] == "return").any():
        table["return_of"] = retail.link_returns(table)
    table = privacy.allow_columns(table, settings.event_columns, "events")
    return output.events_strings(table.copy(deep=False), keyed)


def _issues(parts) -> pd.DataFrame:
    frames = []
    for part in parts:
        users = part.typed["user_id"] if "user_id" in part.typed else None
        table = part.issues.table(part.name, source_name(part.raw, part.name), users)
        if len(table):
            frames.append(table[~part.erased[table["row"].to_numpy()]])
    return pd.concat(frames, ignore_index=True) if frames else empty_issues()


def _dropped(parts, settings: CurationSettings) -> dict[str, list[str]]:
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
