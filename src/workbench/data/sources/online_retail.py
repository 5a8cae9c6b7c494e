"""UCI Online Retail (Chen 2015): 541,909 invoice lines of a UK gift shop, 2010-12..2011-12.

Every line becomes one raw event: a ``purchase``, or a ``return`` for a cancellation (invoice
number starting with ``C``). Lines are passed on as they are, including those without a
customer; curation decides what is quarantined. ``invoice_no`` and ``unit_price`` travel with
the events for the curation rules. Invoice dates are naive UK local times.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from workbench.data.catalog import dataset_file
from workbench.data.sources._common import implied_consent

SOURCE_TIMEZONE = "Europe/London"


def read_lines(path: Path) -> pd.DataFrame:
    """The published CSV with every column as text (nothing coerced, nothing dropped)."""
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])


def _most_common(values: pd.Series):
    """The most frequent non-null value, or None."""
    mode = values.dropna().mode()
    return mode.iat[0] if len(mode) else None


def load(raw_dir: Path, mirror: Path | None = None) -> dict[str, pd.DataFrame]:
    """Raw contract tables of Online Retail; see the module docstring."""
    lines = read_lines(dataset_file("online-retail", "online_retail.csv.gz", raw_dir, mirror))
    invoice = lines["InvoiceNo"].fillna("")
    quantity = pd.to_numeric(lines["Quantity"], errors="coerce")
    unit_price = pd.to_numeric(lines["UnitPrice"], errors="coerce")
    local = pd.to_datetime(lines["InvoiceDate"], errors="coerce", format="%Y-%m-%d %H:%M:%S")
    timestamp = local.dt.tz_localize(SOURCE_TIMEZONE, ambiguous="NaT", nonexistent="NaT")
    customer = lines["CustomerID"].str.replace(r"\.0$", "", regex=True)
    events = pd.DataFrame(
        {
            "event_id": "ol" + pd.Series(np.arange(len(lines)), dtype=str),
            "user_id": customer,
            "item_id": lines["StockCode"],
            "event_type": np.where(invoice.str.startswith("C"), "return", "purchase"),
            "value": quantity,
            "revenue": quantity * unit_price,
            "timestamp": timestamp.dt.tz_convert("UTC").astype("datetime64[us, UTC]"),
            "country": lines["Country"],
            "invoice_no": invoice,
            "unit_price": unit_price,
        }
    )
    items = (
        lines.groupby("StockCode")
        .agg(title=("Description", _most_common), price=("UnitPrice", "first"))
        .reset_index()
        .rename(columns={"StockCode": "item_id"})
    )
    items["text"] = items["title"]
    items["categories"] = [[] for _ in range(len(items))]
    items["price"] = pd.to_numeric(items["price"], errors="coerce")
    known = events.dropna(subset=["user_id"])
    users = known.groupby("user_id")["country"].agg(lambda c: c.mode().iat[0]).reset_index()
    consent = implied_consent(known.dropna(subset=["timestamp"]))
    return {"events": events, "users": users, "items": items, "consent": consent}
