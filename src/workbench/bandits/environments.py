"""Where policies are evaluated: replay on uniformly logged data and a semi-synthetic simulator.

Replay (Li et al., WWW 2010) walks through logs collected by a uniform-random policy, keeps the
rounds where the evaluated policy chooses the logged action, and learns only from those; on
uniform logs its value is an unbiased estimate of the policy's online value.

The simulator is fitted on real interactions (see :mod:`workbench.bandits.simulation`): users
fall into context cells (persona, demographics or taste), arms are item categories or items, and
each (cell, arm) pair gets a true click rate, so regret is exactly computable.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.utils import check_random_state
from tqdm.auto import tqdm

from workbench.bandits.base import BasePolicy

log = logging.getLogger(__name__)


@dataclass
class SimulationResult:
    """One online run of a policy in a simulator.

    Attributes
    ----------
    actions : ndarray of int of shape (horizon,)
    rewards : ndarray of shape (horizon,)
        The drawn 0/1 rewards.
    expected : ndarray of shape (horizon,)
        True mean reward of the chosen arm in that round's cell.
    optimal : ndarray of shape (horizon,)
        True mean reward of the best arm in that round's cell.
    """

    actions: np.ndarray
    rewards: np.ndarray
    expected: np.ndarray
    optimal: np.ndarray

    @property
    def regret(self) -> np.ndarray:
        """Cumulative pseudo-regret (expected, not drawn), shape (horizon,)."""
        return np.cumsum(self.optimal - self.expected)

    @property
    def cumulative_reward(self) -> np.ndarray:
        """Cumulative drawn reward, shape (horizon,)."""
        return np.cumsum(self.rewards)

    @property
    def mean_expected_reward(self) -> float:
        """Average true value of the chosen arms: the run's value without reward noise."""
        return float(self.expected.mean())


@dataclass
class BanditSimulator:
    """A contextual Bernoulli bandit whose true arm values are known.

    Attributes
    ----------
    contexts : ndarray of shape (n_cells, n_features)
        The context vector of each cell (one-hot of the cell).
    weights : ndarray of shape (n_cells,)
        Probability that a round comes from each cell.
    true_means : ndarray of shape (n_cells, n_actions)
        Click rate of each arm in each cell.
    action_names, feature_names : list of str
    """

    contexts: np.ndarray
    weights: np.ndarray
    true_means: np.ndarray
    action_names: list[str]
    feature_names: list[str]

    @property
    def n_actions(self) -> int:
        return self.true_means.shape[1]

    @property
    def n_features(self) -> int:
        return self.contexts.shape[1]

    @property
    def optimal_value(self) -> float:
        """Value of the policy that knows the true means."""
        return float(self.weights @ self.true_means.max(axis=1))

    def policy_value(self, probabilities: np.ndarray) -> float:
        """True value of a stationary policy.

        Parameters
        ----------
        probabilities : ndarray of shape (n_cells, n_actions)
            The policy's action distribution in each cell.
        """
        return float(self.weights @ (probabilities * self.true_means).sum(axis=1))

    def sample_cells(self, n_rounds: int, random_state=None) -> np.ndarray:
        """Cells of ``n_rounds`` rounds, drawn by weight; shape (n_rounds,)."""
        rng = check_random_state(random_state)
        return rng.choice(len(self.weights), size=n_rounds, p=self.weights)

    def run(
        self, policy: BasePolicy, horizon: int, random_state=None, progress: bool = False
    ) -> SimulationResult:
        """Reset ``policy`` and let it play ``horizon`` rounds online.

        The environment's randomness (cells and reward draws) comes from ``random_state`` only,
        so two policies run with the same seed face the same users and the same coin flips.
        """
        rng = check_random_state(random_state)
        cells = self.sample_cells(horizon, rng)
        coins = rng.random_sample(horizon)
        policy.fit(self.contexts[:0])
        actions = np.empty(horizon, dtype=int)
        rounds = tqdm(range(horizon), desc=type(policy).__name__, disable=not progress)
        for t in rounds:
            x = self.contexts[cells[t]]
            action = policy.act(x)
            reward = float(coins[t] < self.true_means[cells[t], action])
            policy.update(action, reward, x)
            actions[t] = action
        expected = self.true_means[cells, actions]
        rewards = (coins < expected).astype(float)
        return SimulationResult(actions, rewards, expected, self.true_means[cells].max(axis=1))

    def log(
        self, n_rounds: int, probabilities: np.ndarray | None = None, random_state=None
    ) -> pd.DataFrame:
        """Logs of a stationary logging policy, as a ``bandit_logs`` contract table.

        Parameters
        ----------
        n_rounds : int
        probabilities : ndarray of shape (n_cells, n_actions), optional
            The logging policy per cell; uniform when omitted.
        random_state : int, RandomState or None

        Returns
        -------
        DataFrame
            ``round, action, position, reward, propensity, cell`` and one column per feature.
        """
        rng = check_random_state(random_state)
        if probabilities is None:
            probabilities = np.full(self.true_means.shape, 1.0 / self.n_actions)
        cells = self.sample_cells(n_rounds, rng)
        cumulative = probabilities[cells].cumsum(axis=1)
        draws = rng.random_sample((n_rounds, 1)) * cumulative[:, -1:]
        actions = np.minimum((draws > cumulative).sum(axis=1), self.n_actions - 1)
        rewards = (rng.random_sample(n_rounds) < self.true_means[cells, actions]).astype(float)
        logs = pd.DataFrame(
            {
                "round": np.arange(n_rounds),
                "action": actions,
                "position": 0,
                "reward": rewards,
                "propensity": probabilities[cells, actions],
                "cell": cells,
            }
        )
        features = pd.DataFrame(self.contexts[cells], columns=self.feature_names)
        return pd.concat([logs, features], axis=1)


@dataclass
class ReplayResult:
    """What replay kept of a policy's run over the logs.

    Attributes
    ----------
    value : float
        Mean reward on the matched rounds (NaN when none matched).
    n_matched : int
    matched_rounds : ndarray of int
        Row positions in the logs where the policy chose the logged action.
    rewards : ndarray
        Rewards of those rounds.
    """

    value: float
    n_matched: int
    matched_rounds: np.ndarray
    rewards: np.ndarray

    def interval(self, alpha: float = 0.05, n_bootstrap: int = 200, random_state=None):
        """Bootstrap ``(lower, upper)`` interval of ``value`` over the matched rounds."""
        if self.n_matched == 0:
            return float("nan"), float("nan")
        rng = check_random_state(random_state)
        resampled = rng.choice(self.rewards, size=(n_bootstrap, self.n_matched)).mean(axis=1)
        lower, upper = np.quantile(resampled, [alpha / 2, 1 - alpha / 2])
        return float(lower), float(upper)


def replay(
    policy: BasePolicy,
    actions,
    rewards,
    contexts=None,
    propensities=None,
    progress: bool = False,
) -> ReplayResult:
    """Replay evaluation of ``policy`` on uniformly logged rounds (Li et al. 2010).

    The policy is reset, then walks through the logs in order; a round counts (and the policy
    learns from it) only when the policy picks the logged action.

    Parameters
    ----------
    policy : BasePolicy
    actions : array-like of int of shape (n_rounds,)
    rewards : array-like of shape (n_rounds,)
    contexts : array-like of shape (n_rounds, n_features), optional
        Needed by contextual policies.
    propensities : array-like of shape (n_rounds,), optional
        Checked to be constant: replay is unbiased on uniform logs only.
    progress : bool
        Show a progress bar.

    Returns
    -------
    ReplayResult
    """
    actions = np.asarray(actions, dtype=int)
    rewards = np.asarray(rewards, dtype=float)
    if propensities is not None and np.ptp(np.asarray(propensities, dtype=float)) > 1e-9:
        log.warning("replay: propensities vary, the logs are not uniform and replay is biased")
    if contexts is None:
        contexts = np.zeros((len(actions), 1))
    contexts = np.asarray(contexts, dtype=float)
    policy.fit(contexts[:0])
    matched = []
    for t in tqdm(range(len(actions)), desc="replay", disable=not progress):
        if policy.act(contexts[t]) == actions[t]:
            policy.update(actions[t], rewards[t], contexts[t])
            matched.append(t)
    matched = np.asarray(matched, dtype=int)
    kept = rewards[matched]
    value = float(kept.mean()) if len(kept) else float("nan")
    return ReplayResult(value, len(matched), matched, kept)


def summarize_runs(runs: dict[str, SimulationResult]) -> pd.DataFrame:
    """Value and regret of each run: ``mean_reward`` (true value of the chosen arms),
    ``regret`` at the end and at mid-horizon, and ``late_to_early``, the regret of the second
    half over that of the first half (about 1 for linear regret, well below for sublinear)."""
    rows = {}
    for name, run in runs.items():
        middle = run.regret[len(run.regret) // 2 - 1]
        rows[name] = {
            "mean_reward": run.mean_expected_reward,
            "regret": float(run.regret[-1]),
            "regret_mid": float(middle),
            "late_to_early": float((run.regret[-1] - middle) / max(middle, 1e-12)),
        }
    return pd.DataFrame.from_dict(rows, orient="index")
