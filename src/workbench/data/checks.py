"""Checks run on a staged curated version before it may replace the current one.

``staged_checks`` returns the callables ``store.write_tables`` runs on the staging folder:
the counts reconcile for every table, the result is not empty, event ids are unique, user ids
are pseudonyms, numbers are finite, timestamps lie in the plausible window, and the
data-quality report (every plot) can be drawn from the staged tables. Any failure raises
before the swap, so the previous version stays as it was.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from workbench.data import report
from workbench.data.errors import CurationCheckError
from workbench.data.quality import reconcile

PSEUDONYM = re.compile(r"[0-9a-f]{20}")
COUNTED = ("events", "users", "items", "consent")


def _read(staging: Path, table: str) -> pd.DataFrame | None:
    path = staging / f"{table}.parquet"
    return pq.read_table(path).to_pandas() if path.is_file() else None


def check_counts(staging: Path, manifest: dict) -> None:
    """Every table's counts reconcile (rows in = curated + quarantined + duplicates + erased)."""
    counts = manifest.get("counts") or {}
    for table in COUNTED:
        if f"{table}_in" in counts:
            reconcile(counts, table)


def check_not_empty(staging: Path, manifest: dict) -> None:
    """The staged data set holds events and users; says why not (reasons, never values)."""
    counts = manifest.get("counts") or {}
    for table in ("events", "users"):
        rows = manifest["tables"].get(table, {}).get("rows", 0)
        if rows:
            continue
        reasons = {
            key.split("_reason_", 1)[1]: value
            for key, value in counts.items()
            if key.startswith(f"{table}_reason_")
        }
        raise CurationCheckError(
            f"every row of {table} was rejected or dropped ({counts.get(f'{table}_in', 0)} in, "
            f"{counts.get(f'{table}_quarantined', 0)} quarantined by reason {reasons}, "
            f"{counts.get(f'{table}_duplicates', 0)} duplicates, "
            f"{counts.get(f'{table}_erased', 0)} erased): an empty data set is not written"
        )


def check_values(window: tuple[pd.Timestamp, pd.Timestamp]) -> Callable[[Path, dict], None]:
    """A check of the staged events: unique ids, pseudonyms, finite numbers, plausible times."""

    def check(staging: Path, manifest: dict) -> None:
        events = _read(staging, "events")
        if events is None:
            raise CurationCheckError("the staged data set has no events table")
        if not events["event_id"].is_unique:
            raise CurationCheckError("events: event_id is not unique")
        users = events["user_id"].astype("str")
        if not users.str.fullmatch(PSEUDONYM).fillna(False).all():
            raise CurationCheckError("events: a user_id is not a pseudonym")
        for column in ("value", "revenue"):
            values = events[column].to_numpy(float)
            if np.isinf(values).any():
                raise CurationCheckError(f"events: column {column!r} holds a non-finite number")
        stamps = events["timestamp"]
        outside = stamps.isna() | (stamps < window[0]) | (stamps > window[1])
        if outside.any():
            raise CurationCheckError(
                f"events: {int(outside.sum())} timestamp(s) outside the plausible window "
                f"{window[0].date()}..{window[1].date()}"
            )

    return check


def check_report(figures: dict) -> Callable[[Path, dict], None]:
    """A check that draws the data-quality report from the staged tables into ``figures``."""

    def check(staging: Path, manifest: dict) -> None:
        events = _read(staging, "events")
        quarantine = _read(staging, "quarantine")
        tables = {
            name: frame
            for name in ("events", "users", "items", "consent")
            if (frame := _read(staging, name)) is not None
        }
        drawn = report.draw(tables, events, quarantine if quarantine is not None else None)
        figures.clear()
        figures.update(drawn)

    return check


def staged_checks(
    window: tuple[pd.Timestamp, pd.Timestamp], figures: dict | None = None
) -> list[Callable[[Path, dict], None]]:
    """Every check of a staged version, the report last (``figures`` receives its plots)."""
    checks = [check_counts, check_not_empty, check_values(window)]
    if figures is not None:
        checks.append(check_report(figures))
    return checks
