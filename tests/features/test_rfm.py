"""RFM: hand-computed recency, frequency, monetary value and quintile scores."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.features.rfm import quintile_scores, rfm

AS_OF = pd.Timestamp("2026-01-31", tz="UTC")


def _events(rows):
    frame = pd.DataFrame(rows, columns=["user_id", "event_type", "revenue", "timestamp"])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True).astype("datetime64[us, UTC]")
    frame["item_id"] = "i1"
    return frame


def test_ten_distinct_values_score_two_per_quintile():
    scores = quintile_scores(pd.Series(np.arange(1.0, 11.0)))
    assert scores.tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]


def test_lower_is_better_reverses_the_scores():
    scores = quintile_scores(pd.Series([10.0, 1.0, 5.0, 3.0, 8.0]), higher_is_better=False)
    # ranks of the negated values: 1, 5, 3, 4, 2 -> p = 0.1, 0.9, 0.5, 0.7, 0.3
    assert scores.tolist() == [1, 5, 3, 4, 2]


def test_ties_share_a_score_whatever_the_order():
    values = pd.Series([1.0, 1.0, 1.0, 1.0, 9.0])
    # four tied values have mid-rank 2.5 -> p = 0.4 -> score 3; the top value p = 0.9 -> 5
    assert quintile_scores(values).tolist() == [3, 3, 3, 3, 5]
    assert quintile_scores(values[::-1]).tolist() == [5, 3, 3, 3, 3]


def test_missing_values_stay_missing():
    scores = quintile_scores(pd.Series([1.0, np.nan, 3.0]))
    assert np.isnan(scores.iloc[1]) and scores.iloc[0] < scores.iloc[2]


def test_rfm_by_hand():
    events = _events(
        [
            ("a", "purchase", 10.0, "2026-01-30"),
            ("a", "purchase", 20.0, "2026-01-21"),
            ("a", "return", -5.0, "2026-01-25"),
            ("b", "purchase", 100.0, "2026-01-01"),
            ("b", "view", None, "2026-01-30"),
            ("c", "view", None, "2026-01-29"),
            ("a", "purchase", 999.0, "2026-02-05"),  # after as_of: ignored
        ]
    )
    table = rfm(events, AS_OF)
    assert list(table.index) == ["a", "b"]  # c never bought
    assert table.loc["a", "recency_days"] == pytest.approx(1.0)
    assert table.loc["b", "recency_days"] == pytest.approx(30.0)
    assert table["frequency"].tolist() == [2.0, 1.0]
    assert table.loc["a", "monetary"] == pytest.approx(25.0)  # 10 + 20 - 5 returned
    assert table.loc["b", "monetary"] == pytest.approx(100.0)
    # two customers: the better one has p = 0.75 -> 4, the other p = 0.25 -> 2
    assert table.loc["a", ["r_score", "f_score", "m_score"]].tolist() == [4, 4, 2]
    assert table.loc["a", "rfm_score"] == 10
    assert table.loc["b", "rfm_score"] == 2 + 2 + 4


def test_frequency_counts_orders_when_sessions_are_known():
    events = _events(
        [
            ("a", "purchase", 1.0, "2026-01-30"),
            ("a", "purchase", 1.0, "2026-01-30"),
            ("a", "purchase", 1.0, "2026-01-10"),
        ]
    )
    events["session_id"] = ["o1", "o1", "o2"]
    assert rfm(events, AS_OF).loc["a", "frequency"] == 2.0


def test_without_prices_rfm_has_recency_and_frequency_only():
    events = _events([("a", "rating", None, "2026-01-30"), ("b", "rating", None, "2026-01-20")])
    table = rfm(events, AS_OF, transaction_types=("rating",), monetary=False)
    assert "monetary" not in table and "m_score" not in table
    # recency: a 4, b 2; frequency ties at 1 -> mid-rank 1.5 -> p = 0.5 -> 3 for both
    assert table["rfm_score"].tolist() == [7.0, 5.0]
