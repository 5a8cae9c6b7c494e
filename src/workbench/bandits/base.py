"""The policy contract every bandit policy implements (see :mod:`workbench.bandits.policies`).

``fit`` resets the state and may warm-start from logs; ``select_action`` returns a
:class:`Decision` with the chosen arm, a score and a probability per arm; ``act`` returns the arm
only; ``update`` learns from one reward; ``predict_proba`` gives action distributions for many
contexts. Subclasses define ``_init_state``, ``_scores``, ``_learn`` and, unless they choose the
best score, ``_probabilities``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from sklearn.utils import check_random_state


class Decision(NamedTuple):
    """One decision of a policy.

    Attributes
    ----------
    action : int
        The chosen arm.
    scores : ndarray of shape (n_actions,)
        The policy's value of each arm (index, mean or posterior mean).
    probabilities : ndarray of shape (n_actions,)
        Probability of choosing each arm; non-negative, sums to one.
    """

    action: int
    scores: np.ndarray
    probabilities: np.ndarray


def argmax_distribution(scores: np.ndarray) -> np.ndarray:
    """Uniform distribution over the arms that tie for the highest score.

    Parameters
    ----------
    scores : ndarray of shape (n_actions,) or (n_rounds, n_actions)

    Returns
    -------
    ndarray of the same shape, rows summing to one.
    """
    scores = np.asarray(scores, dtype=float)
    best = scores == scores.max(axis=-1, keepdims=True)
    return best / best.sum(axis=-1, keepdims=True)


def is_distribution(probabilities, atol: float = 1e-8) -> bool:
    """Whether every row of ``probabilities`` (n_rows, n_actions) is non-negative and sums to 1."""
    values = np.asarray(probabilities, dtype=float)
    return bool((values >= 0).all() and np.allclose(values.sum(axis=1), 1.0, atol=atol))


class BasePolicy(BaseEstimator):
    """The shared mechanics: state reset, decisions, warm start. Subclasses define the model.

    Parameters
    ----------
    n_actions : int
        Number of arms.
    random_state : int, RandomState or None
        Seeds the policy's own randomness (exploration, posterior draws).
    """

    contextual = False

    def __init__(self, n_actions: int = 2, random_state=None):
        self.n_actions = n_actions
        self.random_state = random_state

    def fit(self, contexts=None, actions=None, rewards=None) -> BasePolicy:
        """Reset the learned state, then learn from logged rounds if given.

        Parameters
        ----------
        contexts : array-like of shape (n_rounds, n_features), optional
            Needed by contextual policies (it fixes ``n_features_in_``, even with 0 rows).
        actions : array-like of int of shape (n_rounds,), optional
        rewards : array-like of shape (n_rounds,), optional

        Returns
        -------
        self
        """
        if int(self.n_actions) < 2:
            raise ValueError(f"n_actions must be at least 2, got {self.n_actions}")
        if self.contextual and contexts is None:
            raise ValueError(f"{type(self).__name__} needs contexts to fix n_features")
        contexts = None if contexts is None else np.atleast_2d(np.asarray(contexts, dtype=float))
        self.n_features_in_ = 0 if contexts is None else contexts.shape[1]
        self.rng_ = check_random_state(self.random_state)
        self.t_ = 0
        self._init_state()
        if actions is not None:
            actions = np.asarray(actions, dtype=int)
            rewards = np.asarray(rewards, dtype=float)
            for i, (action, reward) in enumerate(zip(actions, rewards, strict=True)):
                self.update(action, reward, None if contexts is None else contexts[i])
        return self

    def select_action(self, context=None) -> Decision:
        """Choose an arm for one context.

        Parameters
        ----------
        context : array-like of shape (n_features,), optional

        Returns
        -------
        Decision
        """
        self._check_fitted()
        x = self._check_context(context)
        scores = self._scores(x)
        probabilities = self._probabilities(x, scores)
        cumulative = np.cumsum(probabilities)
        draw = self.rng_.random_sample() * cumulative[-1]
        action = min(int(np.searchsorted(cumulative, draw, side="right")), self.n_actions - 1)
        return Decision(action, scores, probabilities)

    def act(self, context=None) -> int:
        """Only the chosen arm, for simulation and replay loops that need no propensities.

        Draws from the same distribution as ``select_action``; sampling policies override it
        with the exact Thompson step (the arm of one posterior draw), skipping the Monte Carlo
        estimate of every arm's probability.
        """
        return self.select_action(context).action

    def update(self, action: int, reward: float, context=None) -> BasePolicy:
        """Learn from the reward of ``action`` in ``context``; returns ``self``."""
        self._check_fitted()
        action = int(action)
        if not 0 <= action < self.n_actions:
            raise ValueError(f"action {action} is outside 0..{self.n_actions - 1}")
        self._learn(action, float(reward), self._check_context(context))
        self.t_ += 1
        return self

    def predict_proba(self, contexts) -> np.ndarray:
        """Action probabilities for many contexts, without learning.

        Parameters
        ----------
        contexts : array-like of shape (n_rounds, n_features)
            For context-free policies only the number of rows matters.

        Returns
        -------
        ndarray of shape (n_rounds, n_actions)
        """
        self._check_fitted()
        contexts = np.atleast_2d(np.asarray(contexts, dtype=float))
        if len(contexts) == 0:
            return np.empty((0, self.n_actions))
        if not self.contextual:
            return np.tile(self._probabilities(None, self._scores(None)), (len(contexts), 1))
        return np.vstack([self._probabilities(x, self._scores(x)) for x in contexts])

    def _check_fitted(self) -> None:
        """``check_is_fitted``, without its cost in the per-round loop."""
        if not hasattr(self, "t_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted: call fit first")

    def _check_context(self, context) -> np.ndarray | None:
        if not self.contextual:
            return None
        x = np.asarray(context, dtype=float).ravel()
        if x.shape[0] != self.n_features_in_:
            raise ValueError(f"context has {x.shape[0]} features, expected {self.n_features_in_}")
        return x

    def _probabilities(self, x, scores: np.ndarray) -> np.ndarray:
        return argmax_distribution(scores)

    def _init_state(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _scores(self, x) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _learn(self, action: int, reward: float, x) -> None:  # pragma: no cover - abstract
        raise NotImplementedError
