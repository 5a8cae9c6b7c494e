"""Context, affinity, popularity, demographics and the build_user_features entry point."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.data.sources import synthetic
from workbench.features import build_user_features, feature_columns, is_known_feature
from workbench.features.affinity import category_affinity
from workbench.features.build import most_frequent
from workbench.features.context import context, counts_table, slug
from workbench.features.popularity import item_popularity
from workbench.features.users import age_band, demographics

AS_OF = pd.Timestamp("2026-01-31", tz="UTC")


def _events(rows, **extra):
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "event_type", "timestamp"])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True).astype("datetime64[us, UTC]")
    frame["value"], frame["revenue"] = 1.0, np.nan
    for column, values in extra.items():
        frame[column] = values
    return frame


@pytest.fixture(scope="module")
def tables():
    return synthetic.generate(n_users=150, n_items=60, n_days=20, seed=3)


def test_context_shares_by_hand():
    events = _events(
        [
            ("a", "i", "view", "2026-01-10 20:00"),  # Saturday evening
            ("a", "i", "view", "2026-01-12 08:00"),  # Monday morning
            ("a", "i", "view", "2026-01-12 21:00"),
            ("a", "i", "view", "2026-01-13 22:00"),
        ],
        device=["mobile", "mobile", "desktop", "mobile"],
    )
    row = context(events, AS_OF).loc["a"]
    assert row["daypart_evening"] == 0.75 and row["daypart_morning"] == 0.25
    assert row["weekend_share"] == 0.25
    assert row["device_mobile"] == 0.75 and row["main_device"] == "mobile"
    assert "channel_direct" not in row.index  # no channel column in the source


def test_affinity_weights_purchases_and_counts_every_category():
    items = pd.DataFrame({"item_id": ["x", "y"], "categories": [["Sci-Fi", "Drama"], ["Drama"]]})
    events = _events([("a", "x", "view", "2026-01-01"), ("a", "y", "purchase", "2026-01-02")])
    shares = category_affinity(events, items).loc["a"]
    # x (weight 1) counts for sci_fi and drama; y (weight 3) for drama: 1 vs 4 of 5
    assert shares["affinity_sci_fi"] == pytest.approx(0.2)
    assert shares["affinity_drama"] == pytest.approx(0.8)


def test_popularity_and_trend():
    events = _events(
        [("a", "x", "view", "2026-01-30"), ("b", "x", "purchase", "2026-01-29"),
         ("a", "y", "view", "2026-01-20"), ("b", "y", "view", "2026-01-21")]
    )  # fmt: skip
    table = item_popularity(events, AS_OF, window_days=7)
    assert table.loc["x", "trend"] > 0 > table.loc["y", "trend"]
    assert table.loc["x", "n_purchases"] == 1 and table["popularity_rank"].tolist() == [1, 1]


def test_demographics_keep_the_allow_list_only():
    users = pd.DataFrame(
        {"user_id": ["a", "b"], "age": [23, None], "zip": ["12345", "99999"],
         "gender": ["F", None], "planted_segment": ["s1", "s2"]}
    )  # fmt: skip
    table = demographics(users, AS_OF)
    assert list(table.columns) == ["age", "age_band", "gender"]
    assert table.loc["a", "age_band"] == "18-24" and pd.isna(table.loc["b", "age_band"])
    assert age_band(pd.Series([17.0, 65.0])).tolist() == ["0-17", "65+"]


def test_build_user_features_on_synthetic_data(tables):
    features = build_user_features(tables["events"], tables["items"], tables["users"])
    assert features.index.is_unique and features.index.isin(tables["users"]["user_id"]).all()
    for column in ("rfm_score", "monetary", "abandoned_carts", "device_mobile", "age_band"):
        assert column in features
    affinity = features.filter(like="affinity_")
    assert np.allclose(affinity.sum(axis=1), 1.0)
    assert "planted_segment" not in features  # the truth never leaks into features
    assert all(is_known_feature(column) for column in features.columns)


def test_known_features_are_derived_from_what_build_user_features_produces():
    fixed = {
        "recency_days", "frequency", "monetary", "r_score", "f_score", "m_score", "rfm_score",
        "n_events", "n_sessions", "events_per_session", "days_active", "tenure_days",
        "active_day_share", "days_since_last_event", "abandoned_carts", "weekend_share",
        "top_month_share", "main_device", "main_channel", "top_category", "age", "age_band",
        "gender", "occupation", "country", "account_age_days",
    }  # fmt: skip
    families = ("n_", "daypart_", "device_", "channel_", "affinity_")
    columns = feature_columns()
    assert fixed <= columns
    assert all(column in fixed or column.startswith(families) for column in columns)
    assert all(is_known_feature(name) for name in ("n_rating", "affinity_drama", "device_tv"))
    assert not any(is_known_feature(name) for name in ("planted_segment", "zip", "user_id"))


def test_sources_without_prices_get_the_parts_that_apply(tables):
    events = tables["events"].assign(event_type="rating", revenue=np.nan)
    events = events.drop(columns=["device", "channel", "session_id"])
    features = build_user_features(events, tables["items"], tables["users"])
    assert "monetary" not in features and "device_mobile" not in features
    assert features["rfm_score"].between(2, 10).all()


def test_as_of_ignores_later_events(tables):
    events = tables["events"]
    cutoff = events["timestamp"].quantile(0.5)
    features = build_user_features(events, tables["items"], tables["users"], as_of=cutoff)
    expected = events[events["timestamp"] <= cutoff].groupby("user_id").size()
    assert features["n_events"].to_dict() == expected.astype(float).to_dict()


def test_slug():
    assert slug(" Children's ") == "childrens" and slug("Sci-Fi") == "sci_fi"
    assert slug("Film-Noir") == "film_noir" and slug("") == "unknown"


def test_vectorized_counts_and_modes_equal_the_per_user_pandas_versions():
    rng = np.random.default_rng(0)
    users = pd.Series(rng.choice([f"u{i}" for i in range(300)], 4000), name="user_id")
    # few values per user, so ties are frequent: the first one seen wins, as value_counts did
    values = pd.Series(rng.choice(["GB", " FR", "DE", None], 4000), name="country")
    expected = pd.DataFrame({"user_id": users, "country": values}).dropna()
    expected = expected.groupby("user_id")["country"].agg(lambda c: c.value_counts().index[0])
    pd.testing.assert_series_equal(most_frequent(users, values), expected)
    pd.testing.assert_frame_equal(counts_table(users, values), pd.crosstab(users, values))
