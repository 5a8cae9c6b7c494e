"""Curation: raw contract tables in, typed curated tables and a quarantine out.

Every input row ends in exactly one place: curated, quarantined with a reason and the column
at fault, or dropped as a duplicate of a kept row. ``Curation.counts`` reconciles them and
``curate`` raises if they do not add up.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from workbench.data.contract import EVENT_TYPES, TIMESTAMP_DTYPE, validate_table

log = logging.getLogger(__name__)

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
)
REQUIRED_EVENT_COLUMNS = ("user_id", "item_id", "event_type", "timestamp")
QUARANTINE_COLUMNS = ("table", "row", "reason", "column", "value", "record")


class ReconciliationError(AssertionError):
    """Rows in do not equal curated + quarantined + dropped duplicates."""


@dataclass(frozen=True)
class CurationSettings:
    """How raw tables are curated.

    Attributes
    ----------
    event_columns : tuple of str
        Allow-list of event columns that reach the curated layer.
    """

    event_columns: tuple[str, ...] = EVENT_COLUMNS


@dataclass
class Curation:
    """The outcome of curation: tables, quarantined rows, and reconciled counts."""

    tables: dict[str, pd.DataFrame]
    quarantine: pd.DataFrame
    counts: dict[str, int] = field(default_factory=dict)


def quarantine_rows(frame: pd.DataFrame, mask, table: str, reason: str, column: str):
    """Quarantine records for the rows of ``frame`` selected by ``mask``."""
    rows = frame[np.asarray(mask, bool)]
    return pd.DataFrame(
        {
            "table": table,
            "row": rows.index.to_numpy(),
            "reason": reason,
            "column": column,
            "value": rows[column].astype(str).to_numpy() if column in rows else "",
            "record": [json.dumps(r, default=str) for r in rows.to_dict(orient="records")],
        }
    )


def _reject(frame, mask, table, reason, column, quarantined):
    if np.asarray(mask).any():
        quarantined.append(quarantine_rows(frame, mask, table, reason, column))
    return frame[~np.asarray(mask, bool)]


def curate_events(events: pd.DataFrame, items: pd.DataFrame | None, settings: CurationSettings):
    """Typed, valid, unique events; and the quarantine of those rejected."""
    quarantined: list[pd.DataFrame] = []
    frame = events.reset_index(drop=True)
    for column in REQUIRED_EVENT_COLUMNS:
        frame = _reject(
            frame, frame[column].isna(), "events", "missing_required", column, quarantined
        )
    frame = _reject(
        frame,
        ~frame["event_type"].isin(EVENT_TYPES),
        "events",
        "out_of_range",
        "event_type",
        quarantined,
    )
    if items is not None:
        unknown = ~frame["item_id"].isin(items["item_id"])
        frame = _reject(frame, unknown, "events", "unknown_item", "item_id", quarantined)
    before = len(frame)
    frame = frame.drop_duplicates(subset=["user_id", "item_id", "event_type", "timestamp"])
    duplicates = before - len(frame)
    columns = [c for c in settings.event_columns if c in frame.columns]
    frame = frame[columns].reset_index(drop=True)
    frame["timestamp"] = frame["timestamp"].astype(TIMESTAMP_DTYPE)
    for column in ("value", "revenue"):
        frame[column] = frame[column].astype(float)
    for column in ("event_id", "user_id", "item_id", "event_type"):
        frame[column] = frame[column].astype(str)
    quarantine = (
        pd.concat(quarantined, ignore_index=True)
        if quarantined
        else pd.DataFrame(columns=list(QUARANTINE_COLUMNS))
    )
    return frame, quarantine, duplicates


def curate(raw: dict[str, pd.DataFrame], settings: CurationSettings | None = None) -> Curation:
    """Curate raw contract tables.

    Parameters
    ----------
    raw : dict of str to DataFrame
        ``events`` (required), ``users``, ``items``, ``consent`` as a source produced them.
    settings : CurationSettings, optional

    Returns
    -------
    Curation

    Raises
    ------
    ContractError
        When a curated table still breaks the contract (a bug in curation, not in the data).
    ReconciliationError
        When the counts do not add up.
    """
    settings = settings or CurationSettings()
    items = raw.get("items")
    events, quarantine, duplicates = curate_events(raw["events"], items, settings)
    tables = {"events": validate_table(events, "events")}
    for name in ("users", "items", "consent"):
        if name in raw:
            tables[name] = validate_table(raw[name].reset_index(drop=True), name)
    counts = {
        "events_in": len(raw["events"]),
        "events_curated": len(events),
        "events_quarantined": len(quarantine),
        "events_duplicates": duplicates,
    }
    check_reconciliation(counts)
    return Curation(tables=tables, quarantine=quarantine, counts=counts)


def check_reconciliation(counts: dict[str, int], table: str = "events") -> None:
    """Raise unless rows in = curated + quarantined + duplicates for ``table``."""
    total = (
        counts[f"{table}_curated"] + counts[f"{table}_quarantined"] + counts[f"{table}_duplicates"]
    )
    if counts[f"{table}_in"] != total:
        raise ReconciliationError(
            f"{table}: {counts[f'{table}_in']} rows in but {total} accounted for ({counts})"
        )
