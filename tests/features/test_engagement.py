"""Engagement: sessions, days active and abandoned carts on hand-made events."""

from __future__ import annotations

import pandas as pd
import pytest

from workbench.features.engagement import abandoned_carts, engagement, session_ids

AS_OF = pd.Timestamp("2026-01-31", tz="UTC")


def _events(rows):
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "event_type", "timestamp"])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True).astype("datetime64[us, UTC]")
    frame["revenue"] = None
    return frame


def test_sessions_split_at_pauses_longer_than_30_minutes():
    events = _events(
        [
            ("a", "i", "view", "2026-01-10 10:00"),
            ("a", "i", "view", "2026-01-10 10:20"),
            ("a", "i", "view", "2026-01-10 11:00"),  # 40 min later: new session
            ("b", "i", "view", "2026-01-10 11:05"),  # another user: new session
        ]
    )
    keys = session_ids(events)
    assert keys.iloc[0] == keys.iloc[1] != keys.iloc[2] != keys.iloc[3]


def test_engagement_by_hand():
    events = _events(
        [
            ("a", "i", "view", "2026-01-10 10:00"),
            ("a", "i", "click", "2026-01-10 10:01"),
            ("a", "i", "view", "2026-01-20 09:00"),
            ("a", "i", "view", "2026-02-20 09:00"),  # after as_of
        ]
    )
    row = engagement(events, AS_OF).loc["a"]
    assert row["n_events"] == 3 and row["n_sessions"] == 2
    assert row["events_per_session"] == pytest.approx(1.5)
    assert row["days_active"] == 2
    assert row["tenure_days"] == pytest.approx(20 + 14 / 24)
    assert row["days_since_last_event"] == pytest.approx(10 + 15 / 24)
    assert row["n_view"] == 2 and row["n_click"] == 1


def test_abandoned_carts_need_a_closed_window_without_a_purchase():
    events = _events(
        [
            ("a", "i1", "add_to_cart", "2026-01-01"),  # never bought: abandoned
            ("a", "i2", "add_to_cart", "2026-01-02"),
            ("a", "i2", "purchase", "2026-01-05"),  # bought within 7 days
            ("b", "i1", "add_to_cart", "2026-01-01"),
            ("b", "i1", "purchase", "2026-01-20"),  # bought too late: abandoned
            ("b", "i2", "add_to_cart", "2026-01-28"),  # window still open: not counted
            ("c", "i1", "add_to_cart", "2026-01-03"),
            ("c", "i9", "purchase", "2026-01-04"),  # another item does not rescue the cart
        ]
    )
    counts = abandoned_carts(events, AS_OF, window_days=7)
    assert counts.to_dict() == {"a": 1.0, "b": 1.0, "c": 1.0}
    # 30 days: only the carts of 1 January have closed windows; b bought within them
    assert abandoned_carts(events, AS_OF, window_days=30).to_dict() == {"a": 1.0, "b": 0.0}
