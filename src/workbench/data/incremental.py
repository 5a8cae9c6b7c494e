"""Incremental ingestion: a watermark per source, idempotent re-runs, late events in a window.

``update`` curates a batch of raw tables and folds it into an existing curated data set:

- events already in the data set (same ``event_id``) are dropped as duplicates, so running
  the same input twice changes nothing (nothing is even written the second time);
- new events at or after ``watermark - late_window`` are appended; older new events are
  quarantined as ``late_event``;
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
from workbench.data.quality import QUARANTINE_COLUMNS, reconcile

log = logging.getLogger(__name__)

WATERMARKS = "watermarks"
KEYS = {"users": ["user_id"], "items": ["item_id"]}
DEFAULT_LATE_WINDOW = pd.Timedelta(days=3)


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
    known_ids: pd.Series,
    watermark: pd.Timestamp | None,
    late_window: pd.Timedelta,
) -> tuple[np.ndarray, np.ndarray]:
    """Split a batch's curated events into already present and too late.

    Parameters
    ----------
    events : DataFrame of shape (n_events, ...)
    known_ids : Series
        ``event_id`` of the events the data set holds.
    watermark : Timestamp or None
        Latest event time ingested from this source.
    late_window : Timedelta

    Returns
    -------
    present, late : ndarray of bool, shape (n_events,)
        Disjoint; the events in neither are appended.
    """
    present = events["event_id"].isin(known_ids).to_numpy(bool)
    if watermark is None:
        return present, np.zeros(len(events), dtype=bool)
    late = (events["timestamp"] < watermark - late_window).to_numpy(bool) & ~present
    return present, late


def _late_quarantine(events: pd.DataFrame, rows: np.ndarray, source_file: str) -> pd.DataFrame:
    """Quarantine records of curated events that arrived after the late window."""
    text = events.to_json(orient="records", lines=True, date_format="iso", force_ascii=False)
    return pd.DataFrame(
        {
            "table": "events",
            "row": rows,
            "reason": "late_event",
            "column": "timestamp",
            "value": events["timestamp"].astype(str).to_numpy(),
            "record": text.rstrip("\n").split("\n") if len(events) else [],
            "source_file": source_file,
            "user_id": events["user_id"].to_numpy(),
        },
        columns=list(QUARANTINE_COLUMNS),
    )


def _adjust_counts(counts: dict, present: int, late: int) -> dict:
    """Counts once present events count as duplicates and late ones as quarantined."""
    counts = dict(counts)
    counts["events_curated"] -= present + late
    counts["events_duplicates"] += present
    counts["events_quarantined"] += late
    if late:
        counts["events_reason_late_event"] = late
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
    late_window: pd.Timedelta = DEFAULT_LATE_WINDOW,
    replace_existing: bool = False,
    checks: Iterable[Callable[[Path, dict], None]] = (),
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
        Names the watermark (one per source feeding the data set).
    late_window : Timedelta
        How far before the watermark a new event is still accepted.
    replace_existing : bool
        Start the data set afresh from this batch (erasures are still honoured).
    checks : iterable of callable
        Run on the staged version before it replaces the current one (``checks``).

    Returns
    -------
    Update
    """
    folder = Path(curated_dir)
    settings = replace(settings, erased=settings.erased | privacy.erased_pseudonyms(folder))
    existing, manifest = read_existing(folder)
    curation = curate(raw, settings)
    batch = {**curation.tables, "quarantine": curation.quarantine, "issues": curation.issues}
    extra = {"dropped_columns": curation.dropped_columns}
    events = batch["events"]
    if replace_existing or "events" not in existing:
        tables = {**batch, **{k: v for k, v in existing.items() if k == privacy.ERASURES}}
        return _write(folder, tables, curation, source, events, {}, extra, checks)
    watermark = manifest.get(WATERMARKS, {}).get(source)
    watermark = pd.Timestamp(watermark) if watermark else None
    present, late = classify_events(events, existing["events"]["event_id"], watermark, late_window)
    source_file = str(raw["events"].attrs.get("source_file", "<events table>"))
    batch["quarantine"] = pd.concat(
        [
            batch["quarantine"],
            _late_quarantine(events[late], curation.event_rows[late], source_file),
        ],
        ignore_index=True,
    )
    curation.counts = _adjust_counts(curation.counts, int(present.sum()), int(late.sum()))
    appended = events[~present & ~late]
    tables = _merge_tables(existing, batch, appended, settings, "users" in raw)
    if _unchanged(tables, existing, len(appended)):
        log.info("%s: the batch holds nothing new; %s left untouched", source, folder)
        return Update(curation, manifest, 0, False)
    return _write(folder, tables, curation, source, appended, manifest, extra, checks)


def _write(folder, tables, curation, source, appended, manifest, extra, checks) -> Update:
    """Write the tables as a transaction (staged, checked, swapped) with the new watermark."""
    n_appended = len(appended)
    watermarks = dict(manifest.get(WATERMARKS, {}))
    if len(appended):
        latest = appended["timestamp"].max()
        previous = watermarks.get(source)
        watermarks[source] = max(latest, pd.Timestamp(previous)) if previous else latest
    watermarks = {k: pd.Timestamp(v).isoformat() for k, v in watermarks.items()}
    extra = {**extra, "source": source, "counts": curation.counts, WATERMARKS: watermarks}
    written = store.write_tables(folder, tables, extra=extra, checks=checks)
    log.info("%s: %d events appended to %s", source, n_appended, folder)
    return Update(curation, written, n_appended, True)
