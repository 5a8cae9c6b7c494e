"""Curation: raw contract tables in, typed curated tables, a quarantine and field issues out.

Every input row ends in exactly one place: curated, quarantined with a reason and the column
at fault, dropped as a repeat of a kept row, or dropped because its user was erased (nothing
of it is kept, not even in the quarantine). ``Curation.counts`` reconciles them per table and
``curate`` raises if they do not add up. A bad optional attribute does not reject its row: it
becomes null and ``Curation.issues`` records where.

This module only orders the steps, each a function of its own module: what may be set
(``settings``), whole-input checks (``quality``), typing and value checks (``fields``,
``timestamps``, ``standardize``), each row's fate per table (``triage``: the rules the source
declares in ``CurationSettings.source_rules``, unknown ids, repeated ids and content through
``dedup``, erasures), entity resolution (``linkage``), and the outcome (``assemble``: links
from returns to purchases through ``retail``, consent, contract-only columns and redaction
through ``output`` and ``privacy``, reconciled counts). Only pseudonymized user ids leave.
"""

from __future__ import annotations

import logging

import pandas as pd

from workbench.data import dedup, linkage, output, privacy
from workbench.data.assemble import Curation, Parts, assemble
from workbench.data.fields import SPECS
from workbench.data.quality import QUARANTINE_COLUMNS, ReconciliationError
from workbench.data.settings import CurationSettings
from workbench.data.triage import (
    curate_consent,
    curate_events,
    curate_users,
    erase_and_pseudonymize,
    mark_duplicate_events,
    mark_repeated_keys,
    prepare,
    start,
)

log = logging.getLogger(__name__)

__all__ = [
    "QUARANTINE_COLUMNS",
    "Curation",
    "CurationSettings",
    "ReconciliationError",
    "curate",
]


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
    tables = {name: prepare(frame, name) for name, frame in raw.items() if name in SPECS}
    parts = dimension_parts(tables, settings)
    parts.events = curate_events(tables["events"], settings, *known_ids(parts))
    parts.keyed = output.keyed_id_columns(parts.events.typed)
    return finish(parts, settings, key)


def dimension_parts(tables: dict[str, pd.DataFrame], settings: CurationSettings) -> Parts:
    """Users (linked), items and consent triaged; ``events`` and ``keyed`` left to fill.

    Parameters
    ----------
    tables : dict of str to DataFrame
        Prepared tables (``triage.prepare``); ``events`` is not read.
    settings : CurationSettings
    """
    items = start(tables["items"], "items", settings) if "items" in tables else None
    if items is not None:
        mark_repeated_keys(items, "item_id", conflicts_rejected=False)
    users, merges, review = (
        curate_users(tables["users"], settings)
        if "users" in tables
        else (None, dedup.empty_merges(), linkage.empty_review())
    )
    parts = Parts(None, users, items, None, merges, review, ())
    if "consent" in tables:
        parts.consent = curate_consent(tables["consent"], settings, known_ids(parts)[0])
    return parts


def known_ids(parts: Parts) -> tuple[pd.Series | None, pd.Series | None]:
    """Raw user ids and item ids events may use (None: the table is absent)."""
    users, items = parts.users, parts.items
    known_items = None if items is None else items.curated()["item_id"]
    if users is None:
        return None, known_items
    return users.typed.loc[users.kept | users.duplicate, "user_id"], known_items


def finish(parts: Parts, settings: CurationSettings, key: bytes) -> Curation:
    """Erasures and pseudonyms applied to every part, duplicates marked, the outcome assembled."""
    events = parts.events
    for part in parts.all():
        if "user_id" in part.typed:
            erase_and_pseudonymize(part, parts.merges, settings, key)
    output.pseudonymize_id_columns(events.typed, key, parts.keyed)
    mark_duplicate_events(events, settings)
    return assemble(parts, settings, key)
