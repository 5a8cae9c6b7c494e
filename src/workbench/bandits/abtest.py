"""A/B test design and analysis for conversion rates, and its cost against a bandit.

Sample size and power use the normal approximation for two proportions; the frequentist test is
the pooled two-proportion z-test; the Bayesian comparison puts independent Beta priors on both
rates and reports ``P(B > A)`` and the expected loss of choosing B, by Monte Carlo.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy import stats
from sklearn.utils import check_random_state

from workbench.bandits.base import BasePolicy
from workbench.bandits.environments import BanditSimulator, SimulationResult

log = logging.getLogger(__name__)


def _rates(baseline: float, lift: float, relative: bool) -> tuple[float, float]:
    treated = baseline * (1.0 + lift) if relative else baseline + lift
    if not (0.0 < baseline < 1.0 and 0.0 < treated < 1.0):
        raise ValueError(f"rates must be in (0, 1): baseline {baseline}, treated {treated}")
    return baseline, treated


def sample_size_per_arm(
    baseline: float,
    lift: float,
    alpha: float = 0.05,
    power: float = 0.8,
    relative: bool = True,
    two_sided: bool = True,
) -> int:
    """Users per arm needed to detect ``lift`` over ``baseline`` with the given power.

    Parameters
    ----------
    baseline : float
        Conversion rate of A.
    lift : float
        Relative (0.1 = +10 %) or absolute difference to detect.
    alpha : float
        Significance level.
    power : float
        Probability of detecting the lift when it is real.
    relative : bool
    two_sided : bool

    Returns
    -------
    int
    """
    p1, p2 = _rates(baseline, lift, relative)
    z_alpha = stats.norm.ppf(1 - alpha / (2 if two_sided else 1))
    z_power = stats.norm.ppf(power)
    pooled = (p1 + p2) / 2
    numerator = (
        z_alpha * np.sqrt(2 * pooled * (1 - pooled))
        + z_power * np.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    ) ** 2
    return int(np.ceil(numerator / (p2 - p1) ** 2))


def power(
    n_per_arm: int,
    baseline: float,
    lift: float,
    alpha: float = 0.05,
    relative: bool = True,
    two_sided: bool = True,
) -> float:
    """Probability that a test with ``n_per_arm`` users per arm detects ``lift``."""
    p1, p2 = _rates(baseline, lift, relative)
    z_alpha = stats.norm.ppf(1 - alpha / (2 if two_sided else 1))
    pooled = (p1 + p2) / 2
    null_se = np.sqrt(2 * pooled * (1 - pooled) / n_per_arm)
    alt_se = np.sqrt((p1 * (1 - p1) + p2 * (1 - p2)) / n_per_arm)
    return float(stats.norm.cdf((abs(p2 - p1) - z_alpha * null_se) / alt_se))


@dataclass(frozen=True)
class ZTestResult:
    """Outcome of a two-proportion z-test (B minus A)."""

    difference: float
    z: float
    p_value: float
    lower: float
    upper: float


def two_proportion_ztest(
    successes_a: int, n_a: int, successes_b: int, n_b: int, alpha: float = 0.05
) -> ZTestResult:
    """Pooled two-sided z-test of ``rate_B - rate_A`` with an unpooled Wald interval."""
    rate_a, rate_b = successes_a / n_a, successes_b / n_b
    pooled = (successes_a + successes_b) / (n_a + n_b)
    se_pooled = np.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    difference = rate_b - rate_a
    z = difference / se_pooled if se_pooled > 0 else 0.0
    p_value = 2 * stats.norm.sf(abs(z))
    se = np.sqrt(rate_a * (1 - rate_a) / n_a + rate_b * (1 - rate_b) / n_b)
    half = stats.norm.ppf(1 - alpha / 2) * se
    return ZTestResult(
        float(difference),
        float(z),
        float(p_value),
        float(difference - half),
        float(difference + half),
    )


@dataclass(frozen=True)
class BayesResult:
    """Posterior comparison of B against A."""

    prob_b_better: float
    expected_loss_b: float
    lift_lower: float
    lift_upper: float


def beta_binomial_comparison(
    successes_a: int,
    n_a: int,
    successes_b: int,
    n_b: int,
    prior: tuple[float, float] = (1.0, 1.0),
    n_samples: int = 100_000,
    random_state=None,
) -> BayesResult:
    """``P(rate_B > rate_A)`` under independent Beta posteriors, by Monte Carlo.

    Returns
    -------
    BayesResult
        Also the expected loss of shipping B (``E[max(rate_A - rate_B, 0)]``) and a 95 %
        credible interval of the relative lift.
    """
    rng = check_random_state(random_state)
    a = rng.beta(prior[0] + successes_a, prior[1] + n_a - successes_a, n_samples)
    b = rng.beta(prior[0] + successes_b, prior[1] + n_b - successes_b, n_samples)
    lift = b / a - 1
    lower, upper = np.quantile(lift, [0.025, 0.975])
    return BayesResult(
        float((b > a).mean()), float(np.maximum(a - b, 0).mean()), float(lower), float(upper)
    )


def ab_test_run(
    simulator: BanditSimulator, horizon: int, test_rounds: int, random_state=None
) -> SimulationResult:
    """A fixed uniform split over all arms for ``test_rounds``, then the observed best arm.

    The environment draws match :meth:`BanditSimulator.run` with the same ``random_state``, so
    the A/B run and a bandit run face the same users and coin flips.
    """
    rng = check_random_state(random_state)
    cells = simulator.sample_cells(horizon, rng)
    coins = rng.random_sample(horizon)
    split = check_random_state(rng.randint(2**31 - 1))
    test = min(test_rounds, horizon)
    actions = np.empty(horizon, dtype=int)
    actions[:test] = split.randint(0, simulator.n_actions, test)
    observed = coins[:test] < simulator.true_means[cells[:test], actions[:test]]
    counts = np.bincount(actions[:test], minlength=simulator.n_actions)
    wins = np.bincount(actions[:test], weights=observed, minlength=simulator.n_actions)
    actions[test:] = int(np.argmax(wins / np.maximum(counts, 1)))
    expected = simulator.true_means[cells, actions]
    optimal = simulator.true_means[cells].max(axis=1)
    return SimulationResult(actions, (coins < expected).astype(float), expected, optimal)


def ab_versus_bandit(
    simulator: BanditSimulator,
    policy: BasePolicy,
    horizon: int,
    test_rounds: int,
    random_state=None,
) -> dict[str, SimulationResult]:
    """Regret of an A/B test (uniform split then ship the winner) and of ``policy``.

    Returns
    -------
    dict
        ``{"ab_test": SimulationResult, "bandit": SimulationResult}`` over the same draws.
    """
    seed = check_random_state(random_state).randint(2**31 - 1)
    return {
        "ab_test": ab_test_run(simulator, horizon, test_rounds, seed),
        "bandit": simulator.run(policy, horizon, seed),
    }


def simulate_ab_design(
    simulator: BanditSimulator,
    policy: BasePolicy,
    value_b: float,
    lift: float = 0.1,
    power: float = 0.8,
    horizon: int = 5000,
    random_state: int = 0,
) -> tuple[dict[str, float], dict[str, SimulationResult]]:
    """Design an A/B test of ``policy`` against the best single arm, and simulate it.

    Arm A is the best single arm (its value in the simulator); B is ``policy``, worth
    ``value_b``. The test is sized to detect a relative ``lift`` with ``power``; both arms'
    conversions are drawn at that size and analysed by the z-test and the Beta-Binomial
    comparison. Then the A/B test (uniform for half of ``horizon``, then the winner) and the
    bandit are run on the same draws, for their regret.

    Returns
    -------
    summary : dict
        ``value_a, value_b, n_per_arm, z_p_value, prob_b_better, ab_regret, bandit_regret``.
    runs : dict of str to SimulationResult
        ``ab_test`` and ``bandit``.
    """
    value_a = float((simulator.weights @ simulator.true_means).max())
    n_per_arm = sample_size_per_arm(value_a, lift, power=power)
    rng = np.random.default_rng(random_state)
    wins_a, wins_b = rng.binomial(n_per_arm, value_a), rng.binomial(n_per_arm, value_b)
    ztest = two_proportion_ztest(wins_a, n_per_arm, wins_b, n_per_arm)
    bayes = beta_binomial_comparison(
        wins_a, n_per_arm, wins_b, n_per_arm, random_state=random_state
    )
    runs = ab_versus_bandit(simulator, policy, horizon, horizon // 2, random_state=random_state + 3)
    summary = {
        "value_a": value_a,
        "value_b": float(value_b),
        "n_per_arm": float(n_per_arm),
        "z_p_value": ztest.p_value,
        "prob_b_better": bayes.prob_b_better,
        "ab_regret": float(runs["ab_test"].regret[-1]),
        "bandit_regret": float(runs["bandit"].regret[-1]),
    }
    return summary, runs
