"""Online Retail: returns linked to purchases, and the published figures end to end."""

from __future__ import annotations

import pandas as pd
import pytest

from workbench.data import ingest, report, retail
from workbench.data.curate import curate
from workbench.data.sources import get_source, load_source


def test_a_return_links_to_the_latest_earlier_purchase_of_user_and_item():
    events = pd.DataFrame(
        {
            "event_id": ["p1", "p2", "r1", "p3", "r2"],
            "user_id": ["a", "a", "a", "a", "b"],
            "item_id": ["x", "x", "x", "x", "x"],
            "event_type": ["purchase", "purchase", "return", "purchase", "return"],
            "timestamp": pd.to_datetime(
                ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"], utc=True
            ),
        }
    )
    linked = retail.link_returns(events)
    assert linked.iloc[2] == "p2"
    assert pd.isna(linked.iloc[4])  # no purchase by b
    assert linked.iloc[[0, 1, 3]].isna().all()


@pytest.mark.slow
@pytest.mark.mirror
def test_online_retail_end_to_end_matches_the_published_figures(tmp_path, mirror):
    raw = load_source("online-retail", tmp_path, mirror)
    settings = ingest.default_settings("online-retail", pseudonym_key=b"k")
    assert settings.source_timezone == "Europe/London"
    curation = curate(raw, settings)
    figures = retail.published_figures(curation)
    assert figures["matches"].all(), figures
    assert get_source("online-retail").published is retail.published_figures  # notebook 10 shows it
    counts = curation.counts
    assert report.reconciliation_table(counts)["balanced"].all()
    assert counts["events_in"] == 541_909
    assert counts["events_reason_missing_required"] == 135_080
    assert counts["events_curated"] == 541_909 - 135_080 - counts["events_duplicates"]
    events = curation.tables["events"]
    assert events["user_id"].nunique() == 4_372
    returns = events[events["event_type"] == "return"]
    assert len(returns) > 8_000 and returns["return_of"].notna().mean() > 0.8
    assert events["session_id"].nunique() > 22_000  # invoices with a customer
    assert not set(events["user_id"]) & set(raw["events"]["user_id"].dropna())
