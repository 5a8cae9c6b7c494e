"""Incremental ingestion: a watermark per feed, idempotent re-runs, late events in a window.

``update`` curates a batch of raw tables and folds it into an existing curated data set:

- events already in the data set (same ``event_id``, same content) are dropped as
  duplicates, so running the same input twice changes nothing (nothing is even written the
  second time); an ``event_id`` the data set holds with other content is a conflict: the
  batch's row is quarantined (``conflicting_duplicate``) and the stored one stays;
- new events at or after ``watermark - late_window`` are appended; older new events are
  quarantined as ``late_event``. Each data set's manifest keeps one watermark per feed
  (``Feed.key``: the feed's name, else the source and its events file), so two feeds into one
  data set never share one;
- users, items and consent are upserted, consent flags recomputed over all consent records,
  the quarantine and the merge audit grow by their new rows only;
- users erased by ``privacy.forget`` stay erased: their rows in the batch are dropped.

History is not curated again: only the batch goes through ``curate``. The curated tables are
then written as a new version through ``store.write_tables``, which stages and checks it
before the swap, so a failed run leaves the previous version byte-identical.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from workbench.data import privacy, store
from workbench.data.curate import Curation, CurationSettings, curate
from workbench.data.dedup import key_codes
from workbench.data.quality import QUARANTINE_COLUMNS, empty_quarantine, reconcile

log = logging.getLogger(__name__)

WATERMARKS = "watermarks"
KEYS = {"users": ["user_id"], "items": ["item_id"]}
DEFAULT_LATE_WINDOW = pd.Timedelta(days=3)
DERIVED_EVENT_COLUMNS = ("event_id", "return_of", "categories")
"""Columns left out when a batch's event is compared with the stored one of the same id:
the id itself, and links computed over the batch (``return_of``)."""


@dataclass(frozen=True)
class Feed:
    """One stream of batches into a data set: its watermark's name and its late window.

    Attributes
    ----------
    name : str
        Names the watermark (option ``feed``); when empty, the source and its events file
        name it (``files:/data/exports/orders.csv``), or the source alone when it reads no
        file (``synthetic``). Name the feed when each batch arrives in a new file
        (``orders-2026-12-01.csv``, ``orders-2026-12-02.csv``): otherwise each file starts
        a watermark of its own and no event is ever late.
    late_window : Timedelta
        How far before the watermark a new event is still accepted (option ``late_window``).
    """

    name: str = ""
    late_window: pd.Timedelta = DEFAULT_LATE_WINDOW

    def key(self, source: str, raw: dict[str, pd.DataFrame]) -> str:
        """The watermark's key in the data set's manifest."""
        if self.name:
            return self.name
        source_file = raw["events"].attrs.get("source_file") if "events" in raw else None
        return f"{source}:{source_file}" if source_file else source


@dataclass
class Update:
    """What an incremental run did.

    Attributes
    ----------
    curation : Curation
        The batch's curation (counts adjusted for events already present or late).
    manifest : dict
        The data set's manifest after the run.
    appended : int
        Events added to the data set.
    written : bool
        False when the batch changed nothing and the data set was left untouched.
    """

    curation: Curation
    manifest: dict
    appended: int
    written: bool


def read_existing(folder: Path) -> tuple[dict[str, pd.DataFrame], dict]:
    """Every table of a curated data set and its manifest (empty when there is none)."""
    folder = Path(folder)
    if not (folder / store.MANIFEST).is_file():
        return {}, {}
    tables = {path.stem: pd.read_parquet(path) for path in sorted(folder.glob("*.parquet"))}
    return tables, store.read_manifest(folder)


def classify_events(
    events: pd.DataFrame,
    stored: pd.DataFrame,
    watermark: pd.Timestamp | None,
    late_window: pd.Timedelta,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split a batch's curated events into already held, conflicting, and too late.

    Parameters
    ----------
    events : DataFrame of shape (n_events, ...)
        The batch's curated events.
    stored : DataFrame of shape (n_stored, ...)
        The events the data set holds (unique ``event_id``).
    watermark : Timestamp or None
        Latest event time ingested from this feed.
    late_window : Timedelta

    Returns
    -------
    present, conflict, late : ndarray of bool, shape (n_events,)
        Disjoint: an ``event_id`` held with the same content (outside
        ``DERIVED_EVENT_COLUMNS``), held with other content, or new but older than
        ``watermark - late_window``. The events in none of them are appended.
    """
    position = pd.Index(stored["event_id"]).get_indexer(events["event_id"])
    held = position >= 0
    conflict = np.zeros(len(events), dtype=bool)
    if held.any():
        rows = np.flatnonzero(held)
        columns = [
            c for c in events.columns if c in stored.columns and c not in DERIVED_EVENT_COLUMNS
        ]
        pair = pd.concat(
            [events.iloc[rows][columns], stored.iloc[position[rows]][columns]], ignore_index=True
        )
        codes = key_codes(pair, columns)
        conflict[rows] = codes[: len(rows)] != codes[len(rows) :]
    present = held & ~conflict
    if watermark is None:
        return present, conflict, np.zeros(len(events), dtype=bool)
    late = (events["timestamp"] < watermark - late_window).to_numpy(bool) & ~held
    return present, conflict, late


def _batch_quarantine(
    events: pd.DataFrame, rows: np.ndarray, source_file: str, reason: str, column: str
) -> pd.DataFrame:
    """Quarantine records of curated events rejected against the data set (``column``'s
    value quoted: the keyed or source ``event_id``, or the timestamp)."""
    text = events.to_json(orient="records", lines=True, date_format="iso", force_ascii=False)
    records = pd.DataFrame(
        {
            "table": "events",
            "row": rows,
            "reason": reason,
            "column": column,
            "value": events[column].astype(str).to_numpy(),
            "record": text.rstrip("\n").split("\n") if len(events) else [],
            "source_file": source_file,
            "user_id": events["user_id"].to_numpy(),
        },
        columns=list(QUARANTINE_COLUMNS),
    )
    return records.astype(empty_quarantine().dtypes.to_dict())  # as curation's: digests agree


def _adjust_counts(counts: dict, present: int, conflict: int, late: int) -> dict:
    """Counts once held events count as duplicates, conflicting and late ones as quarantined."""
    counts = dict(counts)
    counts["events_curated"] -= present + conflict + late
    counts["events_duplicates"] += present
    counts["events_quarantined"] += conflict + late
    for reason, n_rows in (("conflicting_duplicate", conflict), ("late_event", late)):
        if n_rows:
            key = f"events_reason_{reason}"
            counts[key] = counts.get(key, 0) + n_rows
    counts["events_already_ingested"] = present
    reconcile(counts, "events")
    return counts


def _upsert(existing, new, keys, new_wins: bool = True) -> pd.DataFrame:
    """Rows of both; for equal keys (all columns when None) the new row wins, or the old."""
    frames = [f for f in (existing, new) if f is not None and len(f)]
    if not frames:
        return existing if existing is not None else new
    combined = pd.concat(frames, ignore_index=True)
    hashable = [c for c in combined.columns if c != "categories"]
    keep = "last" if new_wins else "first"
    return combined.drop_duplicates(subset=keys or hashable, keep=keep).reset_index(drop=True)


def _merge_tables(existing, batch, appended, settings, users_given: bool) -> dict:
    """The data set's tables with the batch folded in.

    Users derived from the batch's events (``users_given`` False) carry no attributes, so the
    rows already held win; users delivered by the source replace them.
    """
    tables = dict(existing)
    tables["events"] = pd.concat([existing["events"], appended], ignore_index=True)
    for name in ("items", "consent", "user_merges", "merge_candidates", "quarantine", "issues"):
        if name in batch:
            tables[name] = _upsert(existing.get(name), batch[name], KEYS.get(name))
    users = _upsert(existing.get("users"), batch.get("users"), ["user_id"], users_given)
    flags = ["personalization_allowed", "analytics_allowed"]
    consent = tables.get("consent")
    users[flags] = privacy.consent_flags(users["user_id"], consent, settings.consent_default)
    tables["users"] = users
    return tables


def _unchanged(tables: dict, existing: dict, n_appended: int) -> bool:
    """Whether folding the batch in left every table as it was."""
    if n_appended or set(tables) != set(existing):
        return False
    small = [name for name in tables if name != "events"]
    return all(
        store.table_digest(tables[name]) == store.table_digest(existing[name]) for name in small
    )


def update(
    curated_dir: Path,
    raw: dict[str, pd.DataFrame],
    settings: CurationSettings,
    source: str,
    feed: Feed = Feed(),
    replace_existing: bool = False,
    checks: Iterable[Callable[[Path, dict], None]] = (),
    curator: Callable[[dict, CurationSettings], Curation] = curate,
) -> Update:
    """Curate a batch of raw tables and fold it into the curated data set in ``curated_dir``.

    Parameters
    ----------
    curated_dir : Path
        ``data/curated/<data set>``; created when absent.
    raw : dict of str to DataFrame
        The batch, as a source delivers it.
    settings : CurationSettings
    source : str
        The source's name (recorded in the manifest).
    feed : Feed
        Names this feed's watermark and holds its late window.
    replace_existing : bool
        Start the data set afresh from this batch (erasures are still honoured).
    checks : iterable of callable
        Run on the staged version before it replaces the current one (``checks``).
    curator : callable
        ``curator(raw, settings) -> Curation``: ``curate`` (pandas), or another engine's.

    Returns
    -------
    Update
    """
    folder = Path(curated_dir)
    settings = replace(settings, erased=settings.erased | privacy.erased_pseudonyms(folder))
    existing, manifest = read_existing(folder)
    curation = curator(raw, settings)
    batch = {**curation.tables, "quarantine": curation.quarantine, "issues": curation.issues}
    extra = {"source": source, "dropped_columns": curation.dropped_columns}
    key = feed.key(source, raw)
    events = batch["events"]
    if replace_existing or "events" not in existing:
        tables = {**batch, **{k: v for k, v in existing.items() if k == privacy.ERASURES}}
        return _write(folder, tables, curation, key, events, {}, extra, checks)
    watermark = manifest.get(WATERMARKS, {}).get(key)
    watermark = pd.Timestamp(watermark) if watermark else None
    present, conflict, late = classify_events(
        events, existing["events"], watermark, feed.late_window
    )
    source_file = str(raw["events"].attrs.get("source_file", "<events table>"))
    rows = curation.event_rows
    batch["quarantine"] = pd.concat(
        [
            batch["quarantine"],
            _batch_quarantine(
                events[conflict], rows[conflict], source_file, "conflicting_duplicate", "event_id"
            ),
            _batch_quarantine(events[late], rows[late], source_file, "late_event", "timestamp"),
        ],
        ignore_index=True,
    )
    curation.counts = _adjust_counts(
        curation.counts, int(present.sum()), int(conflict.sum()), int(late.sum())
    )
    if conflict.any():
        log.warning("%s: %d events hold a stored event_id with other content", key, conflict.sum())
    appended = events[~present & ~conflict & ~late]
    tables = _merge_tables(existing, batch, appended, settings, "users" in raw)
    if _unchanged(tables, existing, len(appended)):
        log.info("%s: the batch holds nothing new; %s left untouched", key, folder)
        return Update(curation, manifest, 0, False)
    return _write(folder, tables, curation, key, appended, manifest, extra, checks)


def _write(folder, tables, curation, key, appended, manifest, extra, checks) -> Update:
    """Write the tables as a transaction (staged, checked, swapped) with the new watermark."""
    n_appended = len(appended)
    watermarks = dict(manifest.get(WATERMARKS, {}))
    if len(appended):
        latest = appended["timestamp"].max()
        previous = watermarks.get(key)
        watermarks[key] = max(latest, pd.Timestamp(previous)) if previous else latest
    watermarks = {k: pd.Timestamp(v).isoformat() for k, v in watermarks.items()}
    extra = {**extra, "counts": curation.counts, WATERMARKS: watermarks}
    written = store.write_tables(folder, tables, extra=extra, checks=checks)
    log.info("%s: %d events appended to %s", key, n_appended, folder)
    return Update(curation, written, n_appended, True)
