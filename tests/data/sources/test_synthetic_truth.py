"""The synthetic site's planted truths: conversion probability and dwell time, as documented."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.data.sources import synthetic
from workbench.features.labels import horizon_labels


@pytest.fixture(scope="module")
def site():
    return synthetic.generate(n_users=3000, n_items=200, n_days=30, seed=11)


def test_the_planted_probability_is_the_observed_conversion_rate(site):
    users = site["users"].set_index("user_id")
    cutoff = pd.Timestamp("2026-01-16", tz="UTC")
    converted = horizon_labels(site["events"], cutoff, 7)["converted"]
    y = converted.reindex(users.index).fillna(0.0).to_numpy()
    p = synthetic.conversion_probability(users["planted_conversion_rate"], 7)
    assert p.mean() == pytest.approx(y.mean(), abs=0.02)
    high = p > np.quantile(p, 0.8)  # the truth also holds within groups it ranks
    assert p[high].mean() == pytest.approx(y[high].mean(), abs=0.05)


def test_dwell_time_follows_its_log_normal_model(site):
    events, users = site["events"], site["users"]
    views = events[events["event_type"] == "view"]
    assert (views["value"] > 0).all()
    mobile = views["device"] == "mobile"
    log_dwell = np.log(views["value"])
    gap = log_dwell[~mobile].mean() - log_dwell[mobile].mean()
    assert gap == pytest.approx(-synthetic.DWELL_MODEL["mobile"], abs=0.1)
    assert set(users.columns) >= {"planted_segment", "planted_conversion_rate"}
