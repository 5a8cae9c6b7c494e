"""Off-policy estimators on simulated logs: limits, unbiasedness, reward models.

The checks every estimator must pass (on-policy, constant rewards, intervals, input
validation) are in ``test_estimator_contract.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

from workbench.bandits.environments import BanditSimulator
from workbench.bandits.ope import (
    DirectMethod,
    DoublyRobust,
    InverseProbabilityWeighting,
    SelfNormalizedIPW,
    SwitchDR,
    empirical_action_dist,
    fit_reward_model,
)


@pytest.fixture(scope="module")
def simulator() -> BanditSimulator:
    """3 context cells x 4 arms, a different best arm per cell."""
    true_means = np.array([[0.1, 0.3, 0.2, 0.05], [0.4, 0.1, 0.1, 0.2], [0.2, 0.2, 0.5, 0.1]])
    return BanditSimulator(
        contexts=np.eye(3),
        weights=np.array([0.5, 0.3, 0.2]),
        true_means=true_means,
        action_names=list("abcd"),
        feature_names=["c0", "c1", "c2"],
    )


def logging_policy(simulator) -> np.ndarray:
    """Non-uniform logging: 40 % on arm 0, the rest spread."""
    return np.tile([0.4, 0.2, 0.2, 0.2], (len(simulator.weights), 1))


def evaluation_policy(simulator) -> np.ndarray:
    """Mostly the best arm of each cell."""
    best = np.eye(simulator.n_actions)[simulator.true_means.argmax(axis=1)]
    return 0.8 * best + 0.05


def arrays(simulator, logs, target):
    contexts = logs[simulator.feature_names].to_numpy()
    return (
        logs["reward"].to_numpy(),
        logs["action"].to_numpy(),
        logs["propensity"].to_numpy(),
        target[logs["cell"].to_numpy()],
        contexts,
    )


def test_dm_with_the_true_reward_function_is_the_true_value_on_the_sample(simulator):
    logs = simulator.log(2000, random_state=1)
    rewards, actions, propensities, target, _ = arrays(
        simulator, logs, evaluation_policy(simulator)
    )
    truth_per_round = simulator.true_means[logs["cell"].to_numpy()]
    value = DirectMethod().estimate_policy_value(
        rewards, actions, propensities, target, truth_per_round
    )
    assert value == pytest.approx((target * truth_per_round).sum(axis=1).mean())


def test_switch_dr_limits_are_dm_and_dr(simulator):
    logs = simulator.log(800, logging_policy(simulator), random_state=2)
    rewards, actions, propensities, target, _ = arrays(
        simulator, logs, evaluation_policy(simulator)
    )
    q = np.full(target.shape, 0.2)
    args = (rewards, actions, propensities, target, q)
    assert SwitchDR(tau=np.inf).estimate_policy_value(*args) == pytest.approx(
        DoublyRobust().estimate_policy_value(*args)
    )
    assert SwitchDR(tau=0.0).estimate_policy_value(*args) == pytest.approx(
        DirectMethod().estimate_policy_value(*args)
    )


def test_snips_stays_within_the_reward_range(simulator):
    logs = simulator.log(300, logging_policy(simulator), random_state=3)
    rewards, actions, propensities, target, _ = arrays(
        simulator, logs, evaluation_policy(simulator)
    )
    value = SelfNormalizedIPW().estimate_policy_value(rewards, actions, propensities, target)
    assert rewards.min() <= value <= rewards.max()


@pytest.mark.slow
def test_ips_and_dr_are_unbiased_over_many_seeds(simulator):
    """Averaged over seeds both land on the truth; each seed's interval mostly covers it."""
    target = evaluation_policy(simulator)
    truth = simulator.policy_value(target)
    estimates = {"ips": [], "dr": []}
    covered = {"ips": 0, "dr": 0}
    n_seeds = 60
    for seed in range(n_seeds):
        logs = simulator.log(1500, logging_policy(simulator), random_state=seed)
        rewards, actions, propensities, dist, contexts = arrays(simulator, logs, target)
        q = fit_reward_model(
            contexts, actions, rewards, simulator.n_actions, n_folds=2, random_state=seed
        )
        for name, estimator in (("ips", InverseProbabilityWeighting()), ("dr", DoublyRobust())):
            interval = estimator.estimate_interval(
                rewards, actions, propensities, dist, q, n_bootstrap=100, random_state=seed
            )
            estimates[name].append(interval.value)
            covered[name] += interval.contains(truth)
    for name, values in estimates.items():
        values = np.asarray(values)
        standard_error = values.std(ddof=1) / np.sqrt(n_seeds)
        assert abs(values.mean() - truth) < 3 * standard_error, name
        assert covered[name] / n_seeds >= 0.85, name


def test_empirical_action_dist_counts_per_position():
    dist = empirical_action_dist([0, 1, 1, 2], [0, 0, 1, 1], n_actions=3, n_positions=3)
    np.testing.assert_allclose(dist[:, 0], [0.5, 0.5, 0.0])
    np.testing.assert_allclose(dist[:, 1], [0.0, 0.5, 0.5])
    np.testing.assert_allclose(dist[:, 2], [1 / 3] * 3)


def test_reward_model_is_cross_fitted_probabilities(simulator):
    logs = simulator.log(3000, random_state=6)
    rewards, actions, _, _, contexts = arrays(simulator, logs, evaluation_policy(simulator))
    q = fit_reward_model(contexts, actions, rewards, simulator.n_actions, random_state=0)
    assert q.shape == (3000, simulator.n_actions)
    assert ((q > 0) & (q < 1)).all()
    # additive in (context, action), so it misses the per-cell best arms (DM is biased here,
    # DR is not: see the unbiasedness test); it still matches each arm's average reward
    truth = simulator.true_means[logs["cell"].to_numpy()]
    np.testing.assert_allclose(q.mean(axis=0), truth.mean(axis=0), atol=0.03)


def test_reward_model_with_interactions_recovers_each_cell(simulator):
    logs = simulator.log(6000, random_state=7)
    rewards, actions, _, _, contexts = arrays(simulator, logs, evaluation_policy(simulator))
    q = fit_reward_model(
        contexts, actions, rewards, simulator.n_actions, random_state=0, interactions=True
    )
    cells = logs["cell"].to_numpy()
    by_cell = np.vstack([q[cells == c].mean(axis=0) for c in range(3)])
    observed = logs.groupby(["cell", "action"])["reward"].mean().unstack().to_numpy()
    np.testing.assert_allclose(by_cell, observed, atol=0.03)
    assert np.abs(by_cell - simulator.true_means).max() < 0.08
