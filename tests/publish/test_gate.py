"""The champion gate: paired per-user comparisons at full precision, ties keep the champion."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.evaluation.compare import paired_bootstrap
from workbench.publish.gate import decide


def test_no_champion_promotes_and_no_metric_always_promotes():
    assert decide("ndcg_at_10", 0.3).promote
    assert decide(None, None).promote


def test_identical_per_user_scores_are_a_tie_and_keep_the_champion():
    scores = np.random.default_rng(0).random(500)
    decision = decide("ndcg_at_10", scores.mean(), "3", scores.mean(), (scores, scores.copy()))
    assert not decision.promote
    assert decision.difference == decision.lower == decision.upper == 0.0
    assert "does not beat v3" in decision.reason


def test_a_clear_per_user_win_promotes_and_a_noisy_one_does_not():
    rng = np.random.default_rng(1)
    champion = rng.random(800)
    clear = champion + 0.05
    decision = decide("ndcg_at_10", clear.mean(), "2", champion.mean(), (clear, champion))
    assert decision.promote and decision.lower > 0 and "beats v2" in decision.reason
    noisy = champion + rng.normal(0.001, 0.2, champion.size)  # better on average, by chance
    decision = decide("ndcg_at_10", noisy.mean(), "2", champion.mean(), (noisy, champion))
    assert not decision.promote and decision.lower < 0 < decision.upper


def test_a_margin_must_be_cleared_by_the_interval():
    champion = np.full(400, 0.4)
    better = champion + 0.01
    assert decide("m", 0.41, "1", 0.4, (better, champion)).promote
    assert not decide("m", 0.41, "1", 0.4, (better, champion), margin=0.02).promote


def test_single_figures_compare_at_full_precision():
    value = 0.419972123456
    assert not decide("policy_value", value, "5", value).promote  # a tie
    assert decide("policy_value", value + 1e-12, "5", value).promote  # rounding would hide it
    assert not decide("policy_value", value - 1e-12, "5", value).promote
    assert decide("loss", 0.1, "5", 0.2, higher_is_better=False).promote


def test_paired_bootstrap_is_seeded_and_checks_its_input():
    rng = np.random.default_rng(2)
    a, b = rng.random(100), rng.random(100)
    assert paired_bootstrap(a, b, random_state=3) == paired_bootstrap(a, b, random_state=3)
    with pytest.raises(ValueError, match="paired"):
        paired_bootstrap(a, b[:50])
