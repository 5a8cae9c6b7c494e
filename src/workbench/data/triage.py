"""Each input table's rows typed and sorted: kept, rejected, a repeat, or of an erased user.

A ``TablePart`` is one table in flight: as delivered (``raw``), typed (``typed``), and the fate
of every row (``verdicts`` for rejections with a reason and column, ``duplicate``, ``erased``).
The functions here decide those fates, table by table; ``assemble`` turns the parts into the
curated tables, the quarantine and the counts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbench.data import dedup, linkage, privacy
from workbench.data.fields import SPECS, type_rows
from workbench.data.quality import (
    FieldIssues,
    Verdicts,
    check_input,
    flag_event_ranges,
    flag_unknown,
)
from workbench.data.settings import CurationSettings
from workbench.data.standardize import normalize_column_names


@dataclass
class TablePart:
    """One table in flight: as delivered, typed, and the fate of each row.

    Attributes
    ----------
    name : str
        ``events``, ``users``, ``items`` or ``consent``.
    raw, typed : DataFrame of shape (n_rows, n_columns)
        As delivered (column names normalized) and parsed.
    verdicts : Verdicts
        Rejected rows with their first reason and column.
    issues : FieldIssues
        Optional values set to null.
    duplicate, erased : ndarray of bool, shape (n_rows,)
        Repeats of a kept row; rows of an erased user.
    """

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


def prepare(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """The raw table with clean column names, checked as a whole."""
    prepared = frame.reset_index(drop=True)
    prepared.columns = normalize_column_names(list(prepared.columns))
    prepared.attrs = dict(frame.attrs)
    check_input(prepared, name, SPECS[name].required, SPECS[name].contract)
    return prepared


def start(raw: pd.DataFrame, name: str, settings: CurationSettings) -> TablePart:
    """A table typed, its bad values rejected or nulled; nothing a repeat or erased yet."""
    typed, verdicts, issues = type_rows(raw, SPECS[name], settings)
    none = np.zeros(len(raw), dtype=bool)
    return TablePart(name, raw, typed, verdicts, issues, none, none.copy())


def mark_repeated_keys(part: TablePart, key: str, conflicts_rejected: bool) -> None:
    """Exact repeats of a key are duplicates; a key on rows with other content is a conflict.

    Conflicting rows are all quarantined (``conflicting_duplicate``) when
    ``conflicts_rejected``; otherwise (users, items) the first is kept and each later row
    is a duplicate recorded as a field issue of the key.
    """
    candidates = np.flatnonzero(~part.erased & part.typed[key].notna().to_numpy(bool))
    ids = rows_at(part.typed[key], candidates)
    duplicate, conflict = dedup.repeated_ids(ids, rows_at(part.typed, candidates))
    rejected = part.verdicts.rejected[candidates]
    part.duplicate[candidates[duplicate & ~rejected]] = True
    if conflicts_rejected:
        part.verdicts.flag(
            mask_of(len(part.raw), candidates[conflict]), "conflicting_duplicate", key
        )
        return
    later = conflict & dedup.duplicate_ids(ids)
    part.duplicate[candidates[later & ~rejected]] = True
    part.issues.add(mask_of(len(part.raw), candidates[later]), key, "conflicting_duplicate")


def mask_of(n_rows: int, positions: np.ndarray) -> np.ndarray:
    """Boolean mask of shape (n_rows,), True at ``positions``."""
    mask = np.zeros(n_rows, dtype=bool)
    mask[positions] = True
    return mask


def rows_at(data, positions: np.ndarray):
    """The rows of a frame or series at ``positions``; itself, uncopied, when that is all."""
    return data if len(positions) == len(data) else data.iloc[positions]


def erase_and_pseudonymize(
    part: TablePart, merges: pd.DataFrame, settings: CurationSettings, key: bytes
) -> None:
    """Canonical, pseudonymized user ids; rows of erased users marked to be dropped."""
    raw_ids = part.typed["user_id"]
    canonical = dedup.apply_merges(raw_ids, merges)
    part.typed["user_id"] = privacy.pseudonymize(canonical, key)
    if settings.erased:
        own = privacy.pseudonymize(raw_ids, key).isin(settings.erased).to_numpy(bool)
        part.erased |= own | part.typed["user_id"].isin(settings.erased).to_numpy(bool)


def curate_users(raw: pd.DataFrame, settings: CurationSettings):
    """Users typed and unique; records of one person linked.

    Returns
    -------
    part : TablePart
    merges, review : DataFrame
        Applied merges and candidates left for review (raw ids).
    """
    part = start(raw, "users", settings)
    mark_repeated_keys(part, "user_id", conflicts_rejected=False)
    kept = part.typed[part.kept]
    merges, review = linkage.resolve_users(kept, settings.linkage)
    part.duplicate[part.kept & part.typed["user_id"].isin(merges["user_id"]).to_numpy(bool)] = True
    return part, merges, review


def curate_events(raw, settings: CurationSettings, known_users, known_items) -> TablePart:
    """Events typed, the source's rules applied, checked, unknown ids marked."""
    part = start(raw, "events", settings)
    if settings.source_rules is not None:
        part.typed = settings.source_rules.prepare_events(part.typed, part.verdicts)
    flag_event_ranges(part.verdicts, part.typed, settings.rating_scale)
    flag_unknown(part.verdicts, part.typed["user_id"], known_users, "unknown_user", "user_id")
    flag_unknown(part.verdicts, part.typed["item_id"], known_items, "unknown_item", "item_id")
    if "event_id" not in part.typed:
        part.typed["event_id"] = derived_event_ids(part.typed)
    return part


def mark_duplicate_events(part: TablePart, settings: CurationSettings) -> None:
    """Repeated event ids (exact or conflicting), then, when asked, repeated content."""
    mark_repeated_keys(part, "event_id", conflicts_rejected=True)
    if not settings.drop_content_duplicates:
        return
    candidates = np.flatnonzero(part.kept)
    columns = [c for c in (*settings.dedup_keys, "timestamp") if c in part.typed]
    repeated = dedup.duplicate_events(
        rows_at(part.typed[columns], candidates),
        settings.dedup_keys,
        settings.dedup_tolerance_seconds,
    )
    part.duplicate[candidates[repeated]] = True


def derived_event_ids(events: pd.DataFrame) -> pd.Series:
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


def curate_consent(raw, settings: CurationSettings, known_users) -> TablePart:
    """Consent records typed; unknown purposes and users rejected."""
    part = start(raw, "consent", settings)
    purpose_ok = part.typed["purpose"].isin(privacy.PURPOSES).to_numpy(bool)
    part.verdicts.flag(~purpose_ok, "out_of_range", "purpose")
    flag_unknown(part.verdicts, part.typed["user_id"], known_users, "unknown_user", "user_id")
    return part
