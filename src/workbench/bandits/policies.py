"""Exploration policies for multi-armed and contextual bandits.

Every policy follows one contract: ``fit(contexts, actions, rewards)`` resets the learned state
(and warm-starts it from logged data when given) and returns ``self``; ``select_action(context)``
returns a :class:`Decision` (the chosen action, a score per arm and the probability of choosing
each arm, so that served decisions carry their propensities); ``update(action, reward,
context)`` learns from one observed reward; ``predict_proba(contexts)`` gives the action
distribution for many contexts at once (what off-policy estimators need). Hyperparameters are
keyword arguments stored unchanged in ``__init__`` so that ``clone``, ``get_params`` and
``set_params`` work (Optuna sets them).

Index policies (epsilon-greedy, UCB1, LinUCB) choose the best score, splitting ties evenly.
Sampling policies (Thompson sampling) choose the best of one posterior draw; the probability of
each arm being chosen has no closed form and is estimated from ``n_samples`` posterior draws, and
``select_action`` draws the action from that estimate, so the logged propensity is exactly the
probability the action was drawn with. ``act(context)`` returns only an action (the exact Thompson
step for sampling policies), for simulation loops that need no propensities.
"""

from __future__ import annotations

import logging

import numpy as np

from workbench.bandits.base import BasePolicy, Decision, argmax_distribution

__all__ = ["POLICIES", "BasePolicy", "Decision", "argmax_distribution", "make_policy"]

log = logging.getLogger(__name__)


class _CountingPolicy(BasePolicy):
    """Context-free state: pulls and reward sums per arm."""

    def _init_state(self) -> None:
        self.counts_ = np.zeros(self.n_actions)
        self.sums_ = np.zeros(self.n_actions)

    def _learn(self, action: int, reward: float, x) -> None:
        self.counts_[action] += 1
        self.sums_[action] += reward

    @property
    def means_(self) -> np.ndarray:
        """Observed mean reward per arm (0 for arms never pulled)."""
        return np.divide(
            self.sums_, self.counts_, out=np.zeros(self.n_actions), where=self.counts_ > 0
        )


class UniformRandom(_CountingPolicy):
    """Every arm with probability ``1 / n_actions``: the logging policy of an A/B split."""

    def _scores(self, x) -> np.ndarray:
        return self.means_

    def _probabilities(self, x, scores: np.ndarray) -> np.ndarray:
        return np.full(self.n_actions, 1.0 / self.n_actions)

    @staticmethod
    def suggest(trial) -> dict:
        return {}


class EpsilonGreedy(_CountingPolicy):
    """Greedy on observed means, exploring uniformly with probability ``epsilon_t``.

    ``epsilon_t = epsilon / (1 + decay * t)``: fixed when ``decay`` is 0, decaying otherwise.
    Arms never pulled score ``+inf`` so each is tried once before exploitation starts.

    Parameters
    ----------
    n_actions : int
    epsilon : float in [0, 1]
    decay : float >= 0
    random_state : int, RandomState or None
    """

    def __init__(
        self, n_actions: int = 2, epsilon: float = 0.1, decay: float = 0.0, random_state=None
    ):
        super().__init__(n_actions=n_actions, random_state=random_state)
        self.epsilon = epsilon
        self.decay = decay

    def _scores(self, x) -> np.ndarray:
        return np.where(self.counts_ > 0, self.means_, np.inf)

    def _probabilities(self, x, scores: np.ndarray) -> np.ndarray:
        epsilon = self.epsilon / (1.0 + self.decay * self.t_)
        return epsilon / self.n_actions + (1.0 - epsilon) * argmax_distribution(scores)

    @staticmethod
    def suggest(trial) -> dict:
        return {"epsilon": trial.suggest_float("epsilon", 0.005, 0.5, log=True)}


class DecayingEpsilonGreedy(EpsilonGreedy):
    """Epsilon-greedy whose exploration decays as ``epsilon / (1 + decay * t)``.

    The same policy as :class:`EpsilonGreedy`, with a decaying default and a search space that
    tunes the decay too.
    """

    def __init__(
        self, n_actions: int = 2, epsilon: float = 0.5, decay: float = 0.01, random_state=None
    ):
        super().__init__(
            n_actions=n_actions, epsilon=epsilon, decay=decay, random_state=random_state
        )

    @staticmethod
    def suggest(trial) -> dict:
        return {
            "epsilon": trial.suggest_float("epsilon", 0.01, 1.0, log=True),
            "decay": trial.suggest_float("decay", 1e-4, 1.0, log=True),
        }


class UCB1(_CountingPolicy):
    """Upper confidence bound: ``mean + alpha * sqrt(2 ln t / n_a)`` (Auer et al. 2002).

    Parameters
    ----------
    n_actions : int
    alpha : float >= 0
        Scales the exploration bonus (1 is the textbook UCB1).
    random_state : int, RandomState or None
    """

    def __init__(self, n_actions: int = 2, alpha: float = 1.0, random_state=None):
        super().__init__(n_actions=n_actions, random_state=random_state)
        self.alpha = alpha

    def _scores(self, x) -> np.ndarray:
        total = max(self.counts_.sum(), 1.0)
        pulled = self.counts_ > 0
        bonus = np.sqrt(2.0 * np.log(total) / np.where(pulled, self.counts_, 1.0))
        return np.where(pulled, self.means_ + self.alpha * bonus, np.inf)

    @staticmethod
    def suggest(trial) -> dict:
        return {"alpha": trial.suggest_float("alpha", 0.01, 2.0, log=True)}


class _SamplingPolicy(BasePolicy):
    """Thompson sampling: the arm with the best posterior draw; probabilities by Monte Carlo."""

    def _draw(self, x, n: int) -> np.ndarray:  # pragma: no cover - abstract
        """Posterior draws of every arm's value, shape (n, n_actions)."""
        raise NotImplementedError

    def _probabilities(self, x, scores: np.ndarray) -> np.ndarray:
        draws = self._draw(x, int(self.n_samples))
        winners = np.argmax(draws, axis=1)
        return np.bincount(winners, minlength=self.n_actions) / len(winners)

    def act(self, context=None) -> int:
        self._check_fitted()
        return int(np.argmax(self._draw(self._check_context(context), 1)[0]))


class BernoulliThompson(_SamplingPolicy, _CountingPolicy):
    """Beta-Bernoulli Thompson sampling for 0/1 rewards.

    Parameters
    ----------
    n_actions : int
    prior_alpha, prior_beta : float > 0
        Beta prior on each arm's success rate.
    n_samples : int
        Posterior draws used to estimate the action probabilities.
    random_state : int, RandomState or None
    """

    def __init__(
        self,
        n_actions: int = 2,
        prior_alpha: float = 1.0,
        prior_beta: float = 1.0,
        n_samples: int = 100,
        random_state=None,
    ):
        super().__init__(n_actions=n_actions, random_state=random_state)
        self.prior_alpha = prior_alpha
        self.prior_beta = prior_beta
        self.n_samples = n_samples

    def _posterior(self) -> tuple[np.ndarray, np.ndarray]:
        return self.prior_alpha + self.sums_, self.prior_beta + self.counts_ - self.sums_

    def _scores(self, x) -> np.ndarray:
        a, b = self._posterior()
        return a / (a + b)

    def _draw(self, x, n: int) -> np.ndarray:
        a, b = self._posterior()
        return self.rng_.beta(a, b, size=(n, self.n_actions))

    @staticmethod
    def suggest(trial) -> dict:
        return {
            "prior_alpha": trial.suggest_float("prior_alpha", 0.1, 10.0, log=True),
            "prior_beta": trial.suggest_float("prior_beta", 0.1, 100.0, log=True),
        }


class GaussianThompson(_SamplingPolicy, _CountingPolicy):
    """Thompson sampling with a Normal prior and Normal rewards of known noise.

    Parameters
    ----------
    n_actions : int
    prior_mean : float
    prior_std : float > 0
    noise_std : float > 0
        Assumed standard deviation of one reward.
    n_samples : int
    random_state : int, RandomState or None
    """

    def __init__(
        self,
        n_actions: int = 2,
        prior_mean: float = 0.0,
        prior_std: float = 1.0,
        noise_std: float = 1.0,
        n_samples: int = 100,
        random_state=None,
    ):
        super().__init__(n_actions=n_actions, random_state=random_state)
        self.prior_mean = prior_mean
        self.prior_std = prior_std
        self.noise_std = noise_std
        self.n_samples = n_samples

    def _posterior(self) -> tuple[np.ndarray, np.ndarray]:
        precision = 1.0 / self.prior_std**2 + self.counts_ / self.noise_std**2
        mean = (self.prior_mean / self.prior_std**2 + self.sums_ / self.noise_std**2) / precision
        return mean, 1.0 / np.sqrt(precision)

    def _scores(self, x) -> np.ndarray:
        return self._posterior()[0]

    def _draw(self, x, n: int) -> np.ndarray:
        mean, std = self._posterior()
        return mean + std * self.rng_.standard_normal((n, self.n_actions))

    @staticmethod
    def suggest(trial) -> dict:
        return {
            "prior_std": trial.suggest_float("prior_std", 0.01, 1.0, log=True),
            "noise_std": trial.suggest_float("noise_std", 0.05, 1.0, log=True),
        }


class _LinearPolicy(BasePolicy):
    """Disjoint ridge regression per arm, ``A_a = l2 I + sum x x'``, ``b_a = sum r x``.

    The inverse of each ``A_a`` is kept up to date with the Sherman-Morrison formula.
    """

    contextual = True

    def _init_state(self) -> None:
        d = self.n_features_in_
        self.A_inv_ = np.repeat(np.eye(d)[None] / float(self.l2), self.n_actions, axis=0)
        self.b_ = np.zeros((self.n_actions, d))

    def _learn(self, action: int, reward: float, x) -> None:
        a_inv = self.A_inv_[action]
        ax = a_inv @ x
        self.A_inv_[action] = a_inv - np.outer(ax, ax) / (1.0 + x @ ax)
        self.b_[action] += reward * x

    @property
    def coef_(self) -> np.ndarray:
        """Ridge coefficients per arm, shape (n_actions, n_features)."""
        return np.einsum("kij,kj->ki", self.A_inv_, self.b_)

    def _scores(self, x) -> np.ndarray:
        return self.coef_ @ x


class LinUCB(_LinearPolicy):
    """Disjoint LinUCB (Li et al. 2010): ``x' theta_a + alpha sqrt(x' A_a^-1 x)``.

    Parameters
    ----------
    n_actions : int
    alpha : float >= 0
        Width of the confidence bound.
    l2 : float > 0
        Ridge penalty (prior precision).
    random_state : int, RandomState or None
    """

    def __init__(self, n_actions: int = 2, alpha: float = 1.0, l2: float = 1.0, random_state=None):
        super().__init__(n_actions=n_actions, random_state=random_state)
        self.alpha = alpha
        self.l2 = l2

    def _scores(self, x) -> np.ndarray:
        width = np.sqrt(np.einsum("i,kij,j->k", x, self.A_inv_, x))
        return self.coef_ @ x + self.alpha * width

    @staticmethod
    def suggest(trial) -> dict:
        return {
            "alpha": trial.suggest_float("alpha", 0.01, 2.0, log=True),
            "l2": trial.suggest_float("l2", 0.1, 10.0, log=True),
        }


class LinearThompson(_SamplingPolicy, _LinearPolicy):
    """Linear Thompson sampling (Agrawal and Goyal 2013): ``theta_a ~ N(theta_hat, v^2 A_a^-1)``.

    Only the scalar ``x' theta_a`` is needed, so it is drawn from its exact Normal
    ``N(x' theta_hat, v^2 x' A_a^-1 x)``.

    Parameters
    ----------
    n_actions : int
    scale : float > 0
        ``v``, the posterior scale.
    l2 : float > 0
    n_samples : int
    random_state : int, RandomState or None
    """

    def __init__(
        self,
        n_actions: int = 2,
        scale: float = 0.25,
        l2: float = 1.0,
        n_samples: int = 100,
        random_state=None,
    ):
        super().__init__(n_actions=n_actions, random_state=random_state)
        self.scale = scale
        self.l2 = l2
        self.n_samples = n_samples

    def _draw(self, x, n: int) -> np.ndarray:
        width = np.sqrt(np.einsum("i,kij,j->k", x, self.A_inv_, x))
        return self.coef_ @ x + self.scale * width * self.rng_.standard_normal((n, self.n_actions))

    @staticmethod
    def suggest(trial) -> dict:
        return {
            "scale": trial.suggest_float("scale", 0.01, 1.0, log=True),
            "l2": trial.suggest_float("l2", 0.1, 10.0, log=True),
        }


POLICIES: dict[str, type[BasePolicy]] = {
    "uniform": UniformRandom,
    "epsilon_greedy": EpsilonGreedy,
    "epsilon_decay": DecayingEpsilonGreedy,
    "ucb1": UCB1,
    "bernoulli_ts": BernoulliThompson,
    "gaussian_ts": GaussianThompson,
    "linucb": LinUCB,
    "lin_ts": LinearThompson,
}


def make_policy(name: str, n_actions: int, random_state=None, **params) -> BasePolicy:
    """An unfitted policy of family ``name`` (a key of ``POLICIES``)."""
    if name not in POLICIES:
        raise KeyError(f"unknown policy {name!r}; choose from {sorted(POLICIES)}")
    return POLICIES[name](n_actions=n_actions, random_state=random_state, **params)
