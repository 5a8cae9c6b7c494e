"""UCI Online Retail (Chen 2015): 541,909 invoice lines of a UK gift shop, 2010-12..2011-12.

Every line becomes one raw event: a ``purchase``, or a ``return`` for a cancellation (invoice
number starting with ``C``). Lines pass on as text, exactly as published, including those
without a customer: curation parses quantities, prices and the naive UK local invoice times
(``source_timezone="Europe/London"``), quarantines what it cannot use, links returns to their
purchases and fills revenue (quantity x unit price). ``invoice_no`` and ``unit_price`` travel
with the events for those rules, which ``SOURCE`` declares (``workbench.data.retail``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from workbench.data import retail
from workbench.data.catalog import dataset_file
from workbench.data.sources._common import implied_consent
from workbench.data.sources.base import CurationRules, Source
from workbench.data.sources.files import read_file

SOURCE_TIMEZONE = "Europe/London"


def to_contract(lines: pd.DataFrame) -> pd.DataFrame:
    """Raw contract events of published invoice lines, every value kept as text.

    Parameters
    ----------
    lines : DataFrame
        The CSV's columns (InvoiceNo, StockCode, Description, Quantity, InvoiceDate,
        UnitPrice, CustomerID, Country) as strings.
    """
    invoice = lines["InvoiceNo"].fillna("")
    events = pd.DataFrame(
        {
            "event_id": "ol" + pd.Series(np.arange(len(lines)), dtype=str),
            "user_id": lines["CustomerID"].str.replace(r"\.0$", "", regex=True),
            "item_id": lines["StockCode"],
            "event_type": np.where(invoice.str.startswith("C"), "return", "purchase"),
            "value": lines["Quantity"],
            "unit_price": lines["UnitPrice"],
            "invoice_no": lines["InvoiceNo"],
            "timestamp": lines["InvoiceDate"],
            "country": lines["Country"],
            "description": lines["Description"],  # checked with the line, not curated
        }
    )
    events.attrs = dict(lines.attrs)
    return events


def _most_common(values: pd.Series):
    """The most frequent non-null value, or None."""
    mode = values.dropna().mode()
    return mode.iat[0] if len(mode) else None


def _items(lines: pd.DataFrame) -> pd.DataFrame:
    """One item per stock code: its most common description and first listed price."""
    items = (
        lines.groupby("StockCode")
        .agg(title=("Description", _most_common), price=("UnitPrice", "first"))
        .reset_index()
        .rename(columns={"StockCode": "item_id"})
    )
    items["text"] = items["title"]
    items["categories"] = [[] for _ in range(len(items))]
    items["price"] = pd.to_numeric(items["price"], errors="coerce").abs()
    return items


def load(raw_dir: Path, mirror: Path | None = None) -> dict[str, pd.DataFrame]:
    """Raw contract tables of Online Retail; see the module docstring."""
    lines = read_file(dataset_file("online-retail", "online_retail.csv.gz", raw_dir, mirror))
    events = to_contract(lines)
    known = lines.dropna(subset=["CustomerID"])
    customer = known["CustomerID"].str.replace(r"\.0$", "", regex=True)
    users = known.assign(user_id=customer).groupby("user_id")["Country"].agg(_most_common)
    users = users.rename("country").reset_index()
    first_seen = pd.DataFrame(
        {
            "user_id": customer,
            "timestamp": pd.to_datetime(known["InvoiceDate"], errors="coerce")
            .dt.tz_localize(SOURCE_TIMEZONE, ambiguous="NaT", nonexistent="NaT")
            .dt.tz_convert("UTC"),
        }
    ).dropna()
    consent = implied_consent(first_seen)
    for table in (users, consent):
        table.attrs = dict(lines.attrs)
    return {"events": events, "users": users, "items": _items(lines), "consent": consent}


SOURCE = Source(
    "online-retail",
    load,
    timezone=SOURCE_TIMEZONE,
    curation=CurationRules(retail.invoice_lines, raw_counts=retail.raw_figures),
    published=retail.published_figures,
)
