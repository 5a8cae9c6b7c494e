"""A/B design: sample size and power agree, the z-test matches the chi-square test, the Bayesian
comparison is symmetric, and a bandit beats a long fixed split on regret."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import chi2_contingency

from workbench.bandits.abtest import (
    ab_test_run,
    ab_versus_bandit,
    beta_binomial_comparison,
    power,
    sample_size_per_arm,
    two_proportion_ztest,
)
from workbench.bandits.environments import BanditSimulator
from workbench.bandits.policies import make_policy


def test_sample_size_gives_the_requested_power():
    n = sample_size_per_arm(0.10, 0.10, alpha=0.05, power=0.8)
    assert power(n, 0.10, 0.10) == pytest.approx(0.8, abs=0.002)
    assert power(n - 200, 0.10, 0.10) < 0.8
    assert sample_size_per_arm(0.10, 0.20) < n
    assert sample_size_per_arm(0.10, 0.01, relative=False) == n


def test_sample_size_rejects_impossible_rates():
    with pytest.raises(ValueError):
        sample_size_per_arm(0.9, 0.2)


def test_ztest_squared_is_the_uncorrected_chi_square():
    result = two_proportion_ztest(100, 1000, 130, 1000)
    table = np.array([[100, 900], [130, 870]])
    chi2, p_value, _, _ = chi2_contingency(table, correction=False)
    assert result.z**2 == pytest.approx(chi2)
    assert result.p_value == pytest.approx(p_value)
    assert result.difference == pytest.approx(0.03)
    assert result.lower < result.difference < result.upper


def test_bayesian_comparison_is_symmetric_and_decisive():
    even = beta_binomial_comparison(50, 1000, 50, 1000, random_state=0)
    assert even.prob_b_better == pytest.approx(0.5, abs=0.01)
    clear = beta_binomial_comparison(50, 1000, 100, 1000, random_state=0)
    assert clear.prob_b_better > 0.999
    assert clear.lift_lower > 0 and clear.expected_loss_b < 1e-4


def test_bandit_regret_ends_below_a_long_fixed_split():
    simulator = BanditSimulator(
        np.eye(1), np.ones(1), np.array([[0.04, 0.05, 0.06]]), list("abc"), ["bias"]
    )
    horizon = 20000
    runs = ab_versus_bandit(
        simulator,
        make_policy("bernoulli_ts", 3, random_state=0),
        horizon,
        test_rounds=15000,
        random_state=0,
    )
    assert runs["bandit"].regret[-1] < runs["ab_test"].regret[-1]
    np.testing.assert_array_equal(runs["bandit"].optimal, runs["ab_test"].optimal)


def test_ab_test_regret_is_linear_during_the_split():
    simulator = BanditSimulator(np.eye(1), np.ones(1), np.array([[0.1, 0.3]]), list("ab"), ["bias"])
    run = ab_test_run(simulator, 4000, test_rounds=2000, random_state=1)
    assert run.regret[1999] == pytest.approx(0.1 * 2000, rel=0.1)
    assert (run.actions[2000:] == 1).all()
