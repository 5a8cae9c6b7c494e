"""Classification metrics at their limits and on hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.evaluation import classification as c

Y = np.array([0, 0, 1, 1, 0, 1, 0, 0, 0, 0], dtype=float)


def test_a_perfect_ranking_scores_one_and_a_reversed_one_zero():
    perfect = Y * 0.9 + 0.05
    assert c.roc_auc(Y, perfect) == 1.0 and c.pr_auc(Y, perfect) == 1.0
    assert c.roc_auc(Y, 1 - perfect) == 0.0
    assert c.lift_at(Y, perfect, 0.3) == pytest.approx(1 / 0.3)  # every top row converts
    assert c.gains_curve(Y, perfect)["captured"].iloc[3] == 1.0


def test_probability_scores_by_hand():
    p = np.full(10, 0.3)  # the base rate: calibrated, uninformative
    assert c.brier(Y, p) == pytest.approx(0.21)
    assert c.log_loss(Y, p) == pytest.approx(-(0.3 * np.log(0.3) + 0.7 * np.log(0.7)))
    assert c.expected_calibration_error(Y, p) == pytest.approx(0.0)
    assert c.expected_calibration_error(Y, np.full(10, 0.8)) == pytest.approx(0.5)
    assert c.roc_auc(Y, p) == 0.5


def test_revenue_captured_by_the_top_k():
    revenue = np.array([0, 0, 10, 30, 0, 60, 0, 0, 0, 0], dtype=float)
    assert c.revenue_captured(revenue, revenue, 1) == pytest.approx(0.6)
    assert c.revenue_captured(revenue, -revenue, 7) == 0.0


def test_bootstrap_intervals_bracket_each_value_and_repeat_with_the_seed():
    rng = np.random.default_rng(0)
    p = rng.random(400)
    y = (rng.random(400) < p).astype(float)
    table = c.bootstrap_metrics(y, p, n_bootstrap=50, random_state=3)
    assert set(table.index) == set(c.METRICS)
    unbiased = table.drop(index="ece")  # binned ECE grows on resamples: its interval sits high
    assert (
        (unbiased["lower"] <= unbiased["value"]) & (unbiased["value"] <= unbiased["upper"])
    ).all()
    assert table.loc["ece", "lower"] < table.loc["ece", "upper"]
    assert table.equals(c.bootstrap_metrics(y, p, n_bootstrap=50, random_state=3))


def test_bad_input_is_refused_naming_it():
    with pytest.raises(ValueError, match="p must lie in"):
        c.brier(Y, np.full(10, 1.5))
    with pytest.raises(ValueError, match="0/1"):
        c.roc_auc(np.full(10, 2.0), np.full(10, 0.5))
