"""One contract suite for every bandit policy, plus known answers for each family."""

from __future__ import annotations

import numpy as np
import optuna
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from workbench.bandits.policies import (
    POLICIES,
    UCB1,
    EpsilonGreedy,
    LinUCB,
    argmax_distribution,
    make_policy,
)

N_ACTIONS = 3
N_FEATURES = 2
NAMES = sorted(POLICIES)


def fitted(name: str, random_state=0, **params):
    policy = make_policy(name, N_ACTIONS, random_state=random_state, **params)
    return policy.fit(np.zeros((0, N_FEATURES)))


def play(policy, n_rounds: int, best=lambda x: 2, seed: int = 0) -> list[int]:
    """Arm ``best(x)`` always pays 1, the others never; contexts alternate between 2 cells."""
    rng = np.random.default_rng(seed)
    actions = []
    for _ in range(n_rounds):
        x = np.eye(N_FEATURES)[rng.integers(N_FEATURES)]
        action = policy.select_action(x).action
        policy.update(action, float(action == best(x)), x)
        actions.append(action)
    return actions


@pytest.mark.parametrize("name", NAMES)
class TestPolicyContract:
    def test_select_before_fit_raises(self, name):
        with pytest.raises(NotFittedError):
            make_policy(name, N_ACTIONS).select_action(np.ones(N_FEATURES))

    def test_fit_returns_self_and_decision_is_valid(self, name):
        policy = make_policy(name, N_ACTIONS, random_state=0)
        assert policy.fit(np.zeros((0, N_FEATURES))) is policy
        decision = policy.select_action(np.ones(N_FEATURES))
        assert 0 <= decision.action < N_ACTIONS
        assert decision.scores.shape == (N_ACTIONS,)
        assert decision.probabilities.shape == (N_ACTIONS,)
        assert (decision.probabilities >= 0).all()
        assert decision.probabilities.sum() == pytest.approx(1.0)

    def test_predict_proba_rows_are_distributions(self, name):
        policy = fitted(name)
        play(policy, 30)
        probabilities = policy.predict_proba(np.eye(N_FEATURES))
        assert probabilities.shape == (N_FEATURES, N_ACTIONS)
        assert (probabilities >= 0).all()
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
        assert policy.predict_proba(np.zeros((0, N_FEATURES))).shape == (0, N_ACTIONS)

    def test_seeded_runs_repeat(self, name):
        first, second = play(fitted(name, 7), 60), play(fitted(name, 7), 60)
        assert first == second

    def test_act_returns_a_valid_seeded_action(self, name):
        first, second = fitted(name, 11), fitted(name, 11)
        actions = [first.act(np.ones(N_FEATURES)) for _ in range(20)]
        assert actions == [second.act(np.ones(N_FEATURES)) for _ in range(20)]
        assert all(0 <= action < N_ACTIONS for action in actions)

    def test_refit_resets_state(self, name):
        policy = fitted(name, 7)
        before = play(policy, 40)
        policy.fit(np.zeros((0, N_FEATURES)))
        assert policy.t_ == 0
        assert play(policy, 40) == before

    def test_params_round_trip_through_clone(self, name):
        policy = make_policy(name, N_ACTIONS, random_state=3)
        twin = clone(policy)
        assert twin.get_params() == policy.get_params()
        assert not hasattr(twin, "t_")

    def test_search_space_sets_valid_params(self, name):
        trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask()
        params = POLICIES[name].suggest(trial)
        policy = make_policy(name, N_ACTIONS, random_state=0).set_params(**params)
        assert (
            policy.get_params()[next(iter(params))] == params[next(iter(params))]
            if params
            else True
        )
        play(policy.fit(np.zeros((0, N_FEATURES))), 5)

    def test_update_rejects_unknown_action(self, name):
        with pytest.raises(ValueError, match="outside"):
            fitted(name).update(N_ACTIONS, 1.0, np.ones(N_FEATURES))

    def test_learns_the_paying_arm(self, name):
        if name == "uniform":
            pytest.skip("the uniform policy does not learn by design")
        policy = fitted(name)
        play(policy, 400)
        assert policy.predict_proba(np.eye(N_FEATURES))[:, 2].min() > 0.8

    def test_warm_start_from_logs(self, name):
        contexts = np.tile(np.eye(N_FEATURES), (50, 1))
        actions = np.tile(np.arange(N_ACTIONS), 34)[: len(contexts)]
        rewards = (actions == 1).astype(float)
        policy = make_policy(name, N_ACTIONS, random_state=0).fit(contexts, actions, rewards)
        assert policy.t_ == len(contexts)
        if name != "uniform":
            assert policy.predict_proba(np.eye(N_FEATURES))[:, 1].min() > 0.8


@pytest.mark.parametrize("name", ["linucb", "lin_ts"])
def test_contextual_policies_learn_a_different_arm_per_context(name):
    policy = fitted(name)
    play(policy, 600, best=lambda x: int(np.argmax(x)))
    probabilities = policy.predict_proba(np.eye(N_FEATURES))
    assert probabilities[0, 0] > 0.8 and probabilities[1, 1] > 0.8


@pytest.mark.parametrize("name", ["linucb", "lin_ts"])
def test_contextual_policies_check_the_context_length(name):
    with pytest.raises(ValueError, match="features"):
        fitted(name).select_action(np.ones(N_FEATURES + 1))
    with pytest.raises(ValueError, match="contexts"):
        make_policy(name, N_ACTIONS).fit()


def test_argmax_distribution_splits_ties():
    np.testing.assert_allclose(argmax_distribution([1.0, 3.0, 3.0]), [0, 0.5, 0.5])


def test_epsilon_greedy_probabilities_follow_epsilon_and_decay():
    policy = EpsilonGreedy(n_actions=3, epsilon=0.3, random_state=0).fit()
    for action, reward in [(0, 0.0), (1, 0.0), (2, 1.0)]:
        policy.update(action, reward)
    np.testing.assert_allclose(policy.select_action().probabilities, [0.1, 0.1, 0.8])
    decaying = EpsilonGreedy(n_actions=3, epsilon=0.3, decay=1.0, random_state=0).fit()
    for action, reward in [(0, 0.0), (1, 0.0), (2, 1.0)]:
        decaying.update(action, reward)
    np.testing.assert_allclose(decaying.select_action().probabilities, [0.025, 0.025, 0.95])


def test_ucb1_tries_every_arm_first_then_uses_the_bound():
    policy = UCB1(n_actions=3, alpha=1.0, random_state=0).fit()
    tried = set()
    for _ in range(3):
        action = policy.select_action().action
        tried.add(action)
        policy.update(action, 0.5)
    assert tried == {0, 1, 2}
    policy.update(0, 1.0)
    expected = policy.means_ + np.sqrt(2 * np.log(4) / policy.counts_)
    np.testing.assert_allclose(policy.select_action().scores, expected)


def test_linucb_coefficients_are_the_ridge_solution():
    rng = np.random.default_rng(0)
    contexts = rng.normal(size=(40, N_FEATURES))
    rewards = contexts @ np.array([0.5, -1.0])
    policy = LinUCB(n_actions=2, alpha=0.0, l2=2.0).fit(contexts, np.zeros(40, int), rewards)
    ridge = np.linalg.solve(contexts.T @ contexts + 2.0 * np.eye(N_FEATURES), contexts.T @ rewards)
    np.testing.assert_allclose(policy.coef_[0], ridge)
    np.testing.assert_allclose(policy.coef_[1], 0.0)
