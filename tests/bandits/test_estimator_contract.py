"""One contract suite for every off-policy estimator, with answers known exactly.

A new estimator is one class and one ``ESTIMATORS`` entry, plus its row in ``ON_POLICY``
below: what it must return when the evaluation policy is the logging policy.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from workbench.bandits.ope import ESTIMATORS, Interval, all_estimators

N_ROUNDS, N_ACTIONS = 300, 3
NAMES = sorted(ESTIMATORS)
# on-policy (weights all 1) with a reward model that is constant across actions, each
# estimator returns the mean logged reward, or (DM) the reward model's mean
ON_POLICY = {
    "dm": "model",
    "ips": "logged",
    "snips": "logged",
    "dr": "logged",
    "sndr": "logged",
    "switch_dr": "logged",
}


def logs(seed: int = 0) -> dict[str, np.ndarray]:
    """Noisy logs of a non-uniform, round-dependent logging policy, and a reward model."""
    rng = np.random.default_rng(seed)
    logging_dist = rng.dirichlet(np.ones(N_ACTIONS), size=N_ROUNDS)
    actions = np.array([rng.choice(N_ACTIONS, p=p) for p in logging_dist])
    return {
        "rewards": rng.binomial(1, 0.3 + 0.2 * (actions == 2)).astype(float),
        "actions": actions,
        "propensities": logging_dist[np.arange(N_ROUNDS), actions],
        "action_dist": 0.6 * np.eye(N_ACTIONS)[np.full(N_ROUNDS, 2)] + 0.4 / N_ACTIONS,
        "estimated_rewards": rng.uniform(0.1, 0.6, size=(N_ROUNDS, N_ACTIONS)),
        "logging_dist": logging_dist,
    }


def args(data: dict) -> tuple:
    keys = ("rewards", "actions", "propensities", "action_dist", "estimated_rewards")
    return tuple(data[key] for key in keys)


@pytest.fixture(scope="module")
def data():
    return logs()


def test_every_estimator_declares_its_known_answer():
    assert set(ON_POLICY) == set(ESTIMATORS) == set(all_estimators())


@pytest.mark.parametrize("name", NAMES)
class TestEstimatorContract:
    def test_is_a_clonable_estimator(self, name, data):
        estimator = ESTIMATORS[name]()
        twin = clone(estimator)
        assert twin.get_params() == estimator.get_params()
        assert twin.estimate_policy_value(*args(data)) == estimator.estimate_policy_value(
            *args(data)
        )

    def test_on_policy_gives_the_logged_mean_reward(self, name, data):
        on_policy = data["logging_dist"]
        constant_model = np.tile(data["estimated_rewards"][:, :1], (1, N_ACTIONS))
        value = ESTIMATORS[name]().estimate_policy_value(
            data["rewards"], data["actions"], data["propensities"], on_policy, constant_model
        )
        expected = {"logged": data["rewards"].mean(), "model": constant_model[:, 0].mean()}
        assert value == pytest.approx(expected[ON_POLICY[name]], rel=1e-12)

    def test_deterministic_target_on_uniform_logs_with_constant_rewards(self, name):
        actions = np.arange(N_ROUNDS) % N_ACTIONS  # every action equally often
        target = np.eye(N_ACTIONS)[np.ones(N_ROUNDS, dtype=int)]  # always action 1
        value = ESTIMATORS[name]().estimate_policy_value(
            np.full(N_ROUNDS, 0.7),
            actions,
            np.full(N_ROUNDS, 1 / N_ACTIONS),
            target,
            np.full((N_ROUNDS, N_ACTIONS), 0.7),
        )
        assert value == pytest.approx(0.7, rel=1e-12)

    def test_scales_with_the_rewards(self, name, data):
        rewards, actions, propensities, target, model = args(data)
        value = ESTIMATORS[name]().estimate_policy_value(*args(data))
        scaled = ESTIMATORS[name]().estimate_policy_value(
            3.0 * rewards, actions, propensities, target, 3.0 * model
        )
        assert scaled == pytest.approx(3.0 * value, rel=1e-12)

    def test_interval_contains_the_estimate_and_repeats_with_its_seed(self, name, data):
        estimator = ESTIMATORS[name]()
        value = estimator.estimate_policy_value(*args(data))
        interval = estimator.estimate_interval(*args(data), n_bootstrap=100, random_state=0)
        assert isinstance(interval, Interval)
        assert interval.value == value
        assert interval.lower <= value <= interval.upper and interval.contains(value)
        assert interval.std > 0
        again = estimator.estimate_interval(*args(data), n_bootstrap=100, random_state=0)
        assert again == interval
        wider = estimator.estimate_interval(
            *args(data), alpha=0.01, n_bootstrap=100, random_state=0
        )
        assert wider.lower <= interval.lower and wider.upper >= interval.upper

    def test_leaves_its_inputs_unchanged(self, name, data):
        copies = [np.array(a, copy=True) for a in args(data)]
        ESTIMATORS[name]().estimate_interval(*args(data), n_bootstrap=5, random_state=0)
        for before, after in zip(copies, args(data), strict=True):
            np.testing.assert_array_equal(before, after)

    def test_refuses_inconsistent_logs(self, name, data):
        rewards, actions, propensities, target, model = args(data)
        estimator = ESTIMATORS[name]()
        with pytest.raises(ValueError, match="equal rows"):
            estimator.estimate_policy_value(rewards[:-1], actions, propensities, target, model)
        with pytest.raises(ValueError, match="equal rows"):
            estimator.estimate_policy_value(rewards, actions, propensities, target[:-1], model)
        with pytest.raises(ValueError, match="2-D"):
            estimator.estimate_policy_value(rewards, actions, propensities, target[:, 0], model)
        with pytest.raises(ValueError, match="positive"):
            estimator.estimate_policy_value(rewards, actions, 0 * propensities, target, model)
        with pytest.raises(ValueError, match="actions must be in"):
            estimator.estimate_policy_value(rewards, actions + 1, propensities, target, model)

    def test_reward_model_is_demanded_exactly_when_used(self, name, data):
        rewards, actions, propensities, target, model = args(data)
        estimator = ESTIMATORS[name]()
        if not estimator.needs_reward_model:
            without = estimator.estimate_policy_value(rewards, actions, propensities, target)
            assert without == estimator.estimate_policy_value(*args(data))
            return
        with pytest.raises(ValueError, match="estimated_rewards"):
            estimator.estimate_policy_value(rewards, actions, propensities, target)
        with pytest.raises(ValueError, match="shape of action_dist"):
            estimator.estimate_policy_value(rewards, actions, propensities, target, model[:, :2])
