"""Conversion labels: nested cut-offs, hand-checked labels, and the leakage test."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.features import labels

DAY = pd.Timedelta(days=1)


@pytest.fixture(scope="module")
def site(planted):
    return planted["tables"]


def test_cutoffs_are_nested_so_no_label_window_reaches_the_next_part():
    end = pd.Timestamp("2026-01-30 17:00", tz="UTC")
    cutoffs = labels.rolling_cutoffs(end, horizon_days=5, n_train=3, n_valid=2, step_days=2)
    assert cutoffs.test == pd.Timestamp("2026-01-26", tz="UTC")  # (T, T + 5 days] ends at 31st
    assert cutoffs.valid == (cutoffs.test - 7 * DAY, cutoffs.test - 5 * DAY)
    assert max(cutoffs.valid) + 5 * DAY <= cutoffs.test
    assert max(cutoffs.train) + 5 * DAY <= min(cutoffs.valid)
    assert [cutoffs.part(c) for c in cutoffs.all] == ["train"] * 3 + ["valid"] * 2 + ["test"]
    with pytest.raises(ValueError, match="horizon_days"):
        labels.rolling_cutoffs(end, horizon_days=0)


def test_labels_count_only_the_horizon_after_the_cutoff():
    stamps = [
        "2026-01-01 00:00",
        "2026-01-05 00:00",
        "2026-01-10 12:00",
        "2026-01-12 00:00",
        "2026-01-20 00:00",
    ]
    events = pd.DataFrame(
        {
            "user_id": ["a", "a", "a", "b", "b"],
            "event_type": ["purchase", "view", "purchase", "purchase", "purchase"],
            "revenue": [5.0, None, 7.0, 3.0, 4.0],
            "timestamp": pd.to_datetime(stamps, utc=True),
        }
    )
    cutoff = pd.Timestamp("2026-01-05", tz="UTC")
    found = labels.horizon_labels(events, cutoff, horizon_days=7)
    assert found.to_dict("index") == {
        "a": {"converted": 1.0, "revenue": 7.0},
        "b": {"converted": 1.0, "revenue": 3.0},  # the 20th is beyond the horizon
    }
    summary = labels.purchase_summary(events, pd.Timestamp("2026-01-15", tz="UTC"))
    assert summary.loc["a"].tolist() == [1.0, 9.0, 14.0]  # x, t_x, T in days
    assert summary.loc["b"].tolist() == [0.0, 0.0, 3.0]


def test_no_feature_reads_an_event_after_the_cutoff(site):
    """Shuffle, corrupt and add post-cut-off events: every feature stays identical."""
    events, items, users = site["events"], site["items"], site["users"]
    cutoff = pd.Timestamp("2026-01-20", tz="UTC")
    before = labels.snapshot(events, items, users, cutoff, horizon_days=5)

    rng = np.random.default_rng(0)
    later = events["timestamp"] > cutoff
    corrupted = events.copy()
    shuffled = corrupted.loc[later].sample(frac=1.0, random_state=1)
    for column in ("user_id", "item_id", "event_type", "device", "channel", "session_id"):
        corrupted.loc[later, column] = shuffled[column].to_numpy()
    corrupted.loc[later, "revenue"] = rng.uniform(0, 1e6, later.sum())
    extra = (
        corrupted.loc[later]
        .head(500)
        .assign(user_id="newcomer", event_type="purchase", event_id=lambda f: f["event_id"] + "x")
    )
    corrupted = pd.concat([corrupted, extra]).sample(frac=1.0, random_state=2)
    after = labels.snapshot(corrupted, items, users, cutoff, horizon_days=5)

    features = before.columns.drop(list(labels.LABELS))
    pd.testing.assert_frame_equal(before[features], after.loc[before.index, features])
    assert "newcomer" not in after.index
    assert not before["revenue"].equals(after["revenue"])  # the labels did read the future


def test_snapshots_stack_each_part_with_one_set_of_columns(site):
    events, items, users = site["events"], site["items"], site["users"]
    cutoffs = labels.rolling_cutoffs(events["timestamp"].max(), 5, n_train=2, step_days=3)
    parts = labels.snapshots(events, items, users, cutoffs)
    assert set(parts) == {"train", "valid", "test"}
    assert parts["train"]["cutoff"].nunique() == 2
    assert list(parts["train"].columns) == list(parts["test"].columns)
    features, y, revenue = labels.split_xy(parts["test"])
    assert set(np.unique(y)) <= {0.0, 1.0} and (revenue[y == 0] == 0).all()
    assert {"rfm_score", "repeat_purchases", "session_rate", "history_days"} <= set(features)


def test_short_data_drop_early_training_cutoffs_or_say_why():
    start, end = pd.Timestamp("2026-01-01", tz="UTC"), pd.Timestamp("2026-01-14 20:00", tz="UTC")
    cutoffs = labels.rolling_cutoffs(end, 4, n_train=3, step_days=2, start=start)
    assert cutoffs.train == (pd.Timestamp("2026-01-03", tz="UTC"),)  # 01-01 and 12-30 dropped
    with pytest.raises(ValueError, match="horizon_days=7 is too long for data spanning 13.8 days"):
        labels.rolling_cutoffs(end, 7, start=start)


def test_dwell_views_come_from_the_horizon_with_affinities_known_at_the_cutoff(site):
    events, items, users = site["events"], site["items"], site["users"]
    cutoff = pd.Timestamp("2026-01-20", tz="UTC")
    features = labels.snapshot(events, items, users, cutoff, horizon_days=5)
    views = labels.dwell_snapshot(events, items, features, cutoff, horizon_days=5)
    window = events[(events["timestamp"] > cutoff) & (events["timestamp"] <= cutoff + 5 * DAY)]
    later = window[(window["event_type"] == "view") & window["user_id"].isin(features.index)]
    assert len(views) == len(later)
    assert np.allclose(np.exp(views["log_dwell"]), later["value"])
    row = views.iloc[0]
    assert row["affinity"] == features.loc[row["user_id"], f"affinity_{row['category']}"]
