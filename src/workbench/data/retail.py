"""Curation rules for retail transactions (UCI Online Retail and sources shaped like it).

Invoice lines arrive as events carrying ``invoice_no`` and ``unit_price``. The invoice becomes
the event's ``session_id`` (one order); a cancellation (invoice number starting with ``C``)
is a ``return`` whose quantity must be negative. A source of invoice lines declares these
rules (``invoice_lines`` and ``raw_figures``) as its ``CurationRules``; see
``sources.online_retail``. Curation links every ``return``, whatever its source, to the latest
earlier purchase of the same item by the same customer (``link_returns``, ``return_of``).
``published_figures`` compares a curation with the figures the publisher states.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from workbench.data.quality import Verdicts

log = logging.getLogger(__name__)

ONLINE_RETAIL_FIGURES = {
    "lines": 541_909,
    "lines_without_customer": 135_080,
    "customers": 4_372,
    "products": 4_070,
    "invoices": 25_900,
    "countries": 38,
}
"""Published figures of UCI Online Retail (``shared/data/README.md``)."""


def invoice_lines(events: pd.DataFrame, verdicts: Verdicts) -> pd.DataFrame:
    """The invoice rules on typed invoice lines: sessions and revenue, cancellations checked.

    Parameters
    ----------
    events : DataFrame of shape (n_events, n_columns)
        Typed events with ``invoice_no``, ``value`` (the quantity) and ``unit_price``.
    verdicts : Verdicts
        Where cancellations with a positive quantity are flagged ``out_of_range``.

    Returns
    -------
    DataFrame of shape (n_events, n_columns + k)
        ``invoice_sessions(events)``.
    """
    prepared = invoice_sessions(events)
    flag_cancellations(verdicts, prepared)
    return prepared


def invoice_sessions(events: pd.DataFrame) -> pd.DataFrame:
    """Invoice lines as events: ``session_id`` from the invoice, revenue from the unit price.

    ``session_id`` is set to the invoice number where missing; ``revenue`` to quantity times
    unit price where missing and both are known (negative for a return).
    """
    session = events.get("session_id", pd.Series(None, index=events.index, dtype="str"))
    prepared = events.assign(session_id=session.fillna(events["invoice_no"]).astype("str"))
    if "unit_price" in events and "value" in events:
        revenue = events.get("revenue", pd.Series(np.nan, index=events.index)).astype(float)
        prepared["revenue"] = revenue.fillna(events["value"] * events["unit_price"])
    return prepared


def flag_cancellations(verdicts: Verdicts, events: pd.DataFrame) -> None:
    """Reject cancellations (invoice ``C...``) with a positive quantity: out of range."""
    cancelled = events["invoice_no"].astype("str").str.startswith("C").fillna(False)
    positive = events["value"].gt(0).fillna(False)
    verdicts.flag((cancelled & positive).to_numpy(bool), "out_of_range", "value")


def link_returns(events: pd.DataFrame) -> pd.Series:
    """The purchase each return reverses: the latest earlier purchase of user and item.

    Parameters
    ----------
    events : DataFrame of shape (n_events, ...)
        Typed, curated events with ``event_id``, ``user_id``, ``item_id``, ``event_type``,
        ``timestamp``.

    Returns
    -------
    Series of shape (n_events,), dtype str
        ``event_id`` of the linked purchase for returns that have one; null elsewhere
        (returns of purchases made before the data begins stay unlinked).
    """
    returns = events.loc[events["event_type"] == "return", ["user_id", "item_id", "timestamp"]]
    purchases = events.loc[
        events["event_type"] == "purchase", ["user_id", "item_id", "timestamp", "event_id"]
    ]
    linked = pd.Series(pd.NA, index=events.index, dtype="str")
    if returns.empty or purchases.empty:
        return linked
    matched = pd.merge_asof(
        returns.reset_index().sort_values("timestamp"),
        purchases.sort_values("timestamp"),
        on="timestamp",
        by=["user_id", "item_id"],
        direction="backward",
    )
    linked[matched["index"].to_numpy()] = matched["event_id"].to_numpy()
    log.info("returns: %d of %d linked to a purchase", linked.notna().sum(), len(returns))
    return linked


def raw_figures(events: pd.DataFrame) -> dict[str, int]:
    """Distinct invoices and countries among the raw invoice lines, before any rejection."""
    return {
        "invoices_raw": int(events["invoice_no"].nunique()),
        "countries_raw": int(events["country"].nunique()),
    }


def published_figures(curation, published: dict | None = None) -> pd.DataFrame:
    """Measured figures of a retail curation beside the published ones.

    Parameters
    ----------
    curation : Curation
        A curation of retail events (its counts hold ``raw_figures``).
    published : dict, optional
        ``ONLINE_RETAIL_FIGURES`` by default.

    Returns
    -------
    DataFrame indexed by figure with columns ``published``, ``measured``, ``matches``
    """
    published = published or ONLINE_RETAIL_FIGURES
    counts = curation.counts
    quarantine = curation.quarantine
    no_customer = (
        (quarantine["table"] == "events")
        & (quarantine["reason"] == "missing_required")
        & (quarantine["column"] == "user_id")
    )
    measured = {
        "lines": counts["events_in"],
        "lines_without_customer": int(no_customer.sum()),
        "customers": len(curation.tables["users"]),
        "products": len(curation.tables["items"]),
        "invoices": counts.get("invoices_raw"),
        "countries": counts.get("countries_raw"),
    }
    frame = pd.DataFrame({"published": pd.Series(published), "measured": pd.Series(measured)})
    frame["matches"] = frame["published"] == frame["measured"]
    return frame
