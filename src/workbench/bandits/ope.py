"""Off-policy estimators: the value of an evaluation policy from logs of another policy.

All estimators read the same arrays, taken from a ``bandit_logs`` contract table:

- ``rewards`` of shape (n_rounds,), the logged rewards;
- ``actions`` of shape (n_rounds,), the logged actions;
- ``propensities`` of shape (n_rounds,), the logging policy's probability of each logged action;
- ``action_dist`` of shape (n_rounds, n_actions), the evaluation policy's probabilities in each
  round's context (and position);
- ``estimated_rewards`` of shape (n_rounds, n_actions), a reward model's prediction for every
  action in each round's context (used by DM and the doubly robust family).

``estimate_policy_value`` returns a float; ``estimate_interval`` a bootstrap percentile interval
over rounds resampled with replacement.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold
from sklearn.utils import check_random_state

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Interval:
    """A point estimate with its bootstrap interval."""

    value: float
    lower: float
    upper: float
    std: float

    def contains(self, truth: float) -> bool:
        """Whether ``truth`` lies in ``[lower, upper]``."""
        return self.lower <= truth <= self.upper


class BaseOffPolicyEstimator(BaseEstimator):
    """Shared input checks and the bootstrap; subclasses define ``_estimate``."""

    needs_reward_model = False

    def estimate_policy_value(
        self, rewards, actions, propensities, action_dist, estimated_rewards=None
    ) -> float:
        """Estimated value of the evaluation policy.

        Parameters
        ----------
        rewards : array-like of shape (n_rounds,)
        actions : array-like of int of shape (n_rounds,)
        propensities : array-like of shape (n_rounds,)
        action_dist : array-like of shape (n_rounds, n_actions)
        estimated_rewards : array-like of shape (n_rounds, n_actions), optional
            Required by DM and the doubly robust estimators.

        Returns
        -------
        float
        """
        return self._estimate(
            *self._check(rewards, actions, propensities, action_dist, estimated_rewards)
        )

    def estimate_interval(
        self,
        rewards,
        actions,
        propensities,
        action_dist,
        estimated_rewards=None,
        alpha: float = 0.05,
        n_bootstrap: int = 200,
        random_state=None,
    ) -> Interval:
        """Point estimate and ``1 - alpha`` bootstrap percentile interval.

        Parameters are those of ``estimate_policy_value``, plus ``alpha``, the number of
        bootstrap resamples and their seed.

        Returns
        -------
        Interval
        """
        arrays = self._check(rewards, actions, propensities, action_dist, estimated_rewards)
        rng = check_random_state(random_state)
        n = len(arrays[0])
        values = np.empty(n_bootstrap)
        for b in range(n_bootstrap):
            rows = rng.randint(0, n, n)
            values[b] = self._estimate(*(None if a is None else a[rows] for a in arrays))
        lower, upper = np.quantile(values, [alpha / 2, 1 - alpha / 2])
        return Interval(self._estimate(*arrays), float(lower), float(upper), float(values.std()))

    def _check(self, rewards, actions, propensities, action_dist, estimated_rewards):
        rewards = np.asarray(rewards, dtype=float)
        actions = np.asarray(actions, dtype=int)
        propensities = np.asarray(propensities, dtype=float)
        action_dist = np.asarray(action_dist, dtype=float)
        n = len(rewards)
        if action_dist.ndim != 2:
            raise ValueError(
                f"action_dist must be 2-D (n_rounds, n_actions), got {action_dist.shape}"
            )
        if len(actions) != n or len(propensities) != n or action_dist.shape[0] != n:
            raise ValueError("rewards, actions, propensities and action_dist need equal rows")
        if n and (actions.min() < 0 or actions.max() >= action_dist.shape[1]):
            raise ValueError(
                f"actions must be in [0, {action_dist.shape[1]}), the columns of action_dist"
            )
        if (propensities <= 0).any():
            raise ValueError("propensities must be positive")
        if self.needs_reward_model:
            if estimated_rewards is None:
                raise ValueError(f"{type(self).__name__} needs estimated_rewards")
            estimated_rewards = np.asarray(estimated_rewards, dtype=float)
            if estimated_rewards.shape != action_dist.shape:
                raise ValueError("estimated_rewards must have the shape of action_dist")
        else:
            estimated_rewards = None
        return rewards, actions, propensities, action_dist, estimated_rewards

    @staticmethod
    def _weights(actions, propensities, action_dist) -> np.ndarray:
        """Importance weights ``pi_e(a_t | x_t) / pi_b(a_t | x_t)``."""
        return action_dist[np.arange(len(actions)), actions] / propensities

    @staticmethod
    def _baseline(action_dist, estimated_rewards) -> np.ndarray:
        """Per round, the reward model's value of the evaluation policy."""
        return (action_dist * estimated_rewards).sum(axis=1)

    @staticmethod
    def _residual(rewards, actions, estimated_rewards) -> np.ndarray:
        return rewards - estimated_rewards[np.arange(len(actions)), actions]

    def _estimate(self, rewards, actions, propensities, action_dist, estimated_rewards) -> float:
        raise NotImplementedError  # pragma: no cover - abstract


class DirectMethod(BaseOffPolicyEstimator):
    """DM: the reward model's value of the evaluation policy; biased when the model is."""

    needs_reward_model = True

    def _estimate(self, rewards, actions, propensities, action_dist, estimated_rewards) -> float:
        return float(self._baseline(action_dist, estimated_rewards).mean())


class InverseProbabilityWeighting(BaseOffPolicyEstimator):
    """IPS: ``mean(w_t r_t)``; unbiased with known propensities, high variance."""

    def _estimate(self, rewards, actions, propensities, action_dist, estimated_rewards) -> float:
        return float((self._weights(actions, propensities, action_dist) * rewards).mean())


class SelfNormalizedIPW(BaseOffPolicyEstimator):
    """SNIPS: ``sum(w r) / sum(w)``; slightly biased, bounded, lower variance."""

    def _estimate(self, rewards, actions, propensities, action_dist, estimated_rewards) -> float:
        weights = self._weights(actions, propensities, action_dist)
        total = weights.sum()
        return float((weights * rewards).sum() / total) if total > 0 else 0.0


class DoublyRobust(BaseOffPolicyEstimator):
    """DR (Dudik et al. 2011): DM plus an importance-weighted correction of its residuals."""

    needs_reward_model = True

    def _estimate(self, rewards, actions, propensities, action_dist, estimated_rewards) -> float:
        weights = self._weights(actions, propensities, action_dist)
        residual = self._residual(rewards, actions, estimated_rewards)
        return float((self._baseline(action_dist, estimated_rewards) + weights * residual).mean())


class SelfNormalizedDR(BaseOffPolicyEstimator):
    """SNDR: DR whose correction term is normalized by the sum of the weights."""

    needs_reward_model = True

    def _estimate(self, rewards, actions, propensities, action_dist, estimated_rewards) -> float:
        weights = self._weights(actions, propensities, action_dist)
        residual = self._residual(rewards, actions, estimated_rewards)
        correction = (weights * residual).sum() / weights.sum() if weights.sum() > 0 else 0.0
        return float(self._baseline(action_dist, estimated_rewards).mean() + correction)


class SwitchDR(BaseOffPolicyEstimator):
    """Switch-DR (Wang et al. 2017): the DR correction only where ``w <= tau``, DM elsewhere.

    Parameters
    ----------
    tau : float > 0
        Importance weights above it switch the round to the reward model alone.
    """

    needs_reward_model = True

    def __init__(self, tau: float = 5.0):
        self.tau = tau

    def _estimate(self, rewards, actions, propensities, action_dist, estimated_rewards) -> float:
        weights = self._weights(actions, propensities, action_dist)
        residual = self._residual(rewards, actions, estimated_rewards)
        kept = weights <= self.tau
        baseline = self._baseline(action_dist, estimated_rewards)
        return float((baseline + kept * weights * residual).mean())


ESTIMATORS: dict[str, type[BaseOffPolicyEstimator]] = {
    "dm": DirectMethod,
    "ips": InverseProbabilityWeighting,
    "snips": SelfNormalizedIPW,
    "dr": DoublyRobust,
    "sndr": SelfNormalizedDR,
    "switch_dr": SwitchDR,
}


def all_estimators() -> dict[str, BaseOffPolicyEstimator]:
    """One estimator of each kind, with default settings."""
    return {name: cls() for name, cls in ESTIMATORS.items()}


def fit_reward_model(
    contexts,
    actions,
    rewards,
    n_actions: int,
    estimator=None,
    n_folds: int = 3,
    random_state=None,
    interactions: bool = False,
) -> np.ndarray:
    """Cross-fitted predictions of the reward of every action in every logged round.

    The model sees ``[context, one-hot(action)]`` (and their products when ``interactions``,
    so each action gets its own context weights); each fold's rounds are predicted by a model
    fitted on the other folds, so DR's correction is not fitted on its own residuals.

    Parameters
    ----------
    contexts : array-like of shape (n_rounds, n_features)
    actions : array-like of int of shape (n_rounds,)
    rewards : array-like of shape (n_rounds,)
        0/1 rewards (a classifier's positive class probability is the prediction).
    n_actions : int
    estimator : classifier, optional
        Logistic regression when omitted.
    n_folds : int
        1 fits and predicts on all rounds.
    random_state : int, RandomState or None
    interactions : bool
        Add context x action products; right for few one-hot contexts, costly for many.

    Returns
    -------
    ndarray of shape (n_rounds, n_actions)
    """
    contexts = np.asarray(contexts, dtype=float)
    actions = np.asarray(actions, dtype=int)
    rewards = np.asarray(rewards, dtype=float)
    estimator = estimator if estimator is not None else LogisticRegression(C=1.0, max_iter=1000)
    n = len(actions)
    predictions = np.empty((n, n_actions))
    if n_folds > 1:
        splits = KFold(n_folds, shuffle=True, random_state=random_state).split(contexts)
    else:
        splits = [(np.arange(n), np.arange(n))]
    for train, test in splits:
        model = _fit_one(
            clone(estimator),
            contexts[train],
            actions[train],
            rewards[train],
            n_actions,
            interactions,
        )
        for action in range(n_actions):
            features = _design(contexts[test], np.full(len(test), action), n_actions, interactions)
            predictions[test, action] = _positive_probability(model, features)
    return predictions


def _design(
    contexts: np.ndarray, actions: np.ndarray, n_actions: int, interactions: bool = False
) -> np.ndarray:
    one_hot = np.eye(n_actions)[actions]
    if not interactions:
        return np.hstack([contexts, one_hot])
    products = (contexts[:, :, None] * one_hot[:, None, :]).reshape(len(contexts), -1)
    return np.hstack([contexts, one_hot, products])


def _fit_one(model, contexts, actions, rewards, n_actions, interactions=False):
    labels = (rewards > 0).astype(int)
    if labels.min() == labels.max():
        return float(labels[0]) if len(labels) else 0.0
    return model.fit(_design(contexts, actions, n_actions, interactions), labels)


def _positive_probability(model, features: np.ndarray) -> np.ndarray:
    if isinstance(model, float):
        return np.full(len(features), model)
    return model.predict_proba(features)[:, 1]


def empirical_action_dist(actions, positions, n_actions: int, n_positions: int) -> np.ndarray:
    """A context-free policy read off its logs: how often each action shows at each position.

    Parameters
    ----------
    actions, positions : array-like of int of shape (n_rounds,)
    n_actions, n_positions : int

    Returns
    -------
    ndarray of shape (n_actions, n_positions)
        Columns sum to one (uniform for a position never logged).
    """
    counts = np.zeros((n_actions, n_positions))
    np.add.at(counts, (np.asarray(actions, dtype=int), np.asarray(positions, dtype=int)), 1.0)
    totals = counts.sum(axis=0, keepdims=True)
    return np.where(totals > 0, counts / np.maximum(totals, 1.0), 1.0 / n_actions)


def estimate_all(
    rewards,
    actions,
    propensities,
    action_dist,
    estimated_rewards,
    alpha: float = 0.05,
    n_bootstrap: int = 200,
    random_state=None,
    truth: float | None = None,
) -> pd.DataFrame:
    """Every estimator's value and bootstrap interval, one row each.

    Returns
    -------
    DataFrame
        Indexed by estimator: ``value, lower, upper, std`` and, when ``truth`` is given,
        ``relative_error`` and ``covers``.
    """
    rows = {}
    for name, estimator in all_estimators().items():
        interval = estimator.estimate_interval(
            rewards,
            actions,
            propensities,
            action_dist,
            estimated_rewards,
            alpha=alpha,
            n_bootstrap=n_bootstrap,
            random_state=random_state,
        )
        rows[name] = {
            "value": interval.value,
            "lower": interval.lower,
            "upper": interval.upper,
            "std": interval.std,
        }
        if truth is not None:
            rows[name]["relative_error"] = abs(interval.value - truth) / truth
            rows[name]["covers"] = interval.contains(truth)
    return pd.DataFrame.from_dict(rows, orient="index")
