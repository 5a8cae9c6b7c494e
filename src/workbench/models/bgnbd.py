"""The BG/NBD repeat-purchase model (Fader, Hardie and Lee, 2005), fitted by maximum likelihood.

While alive, a customer buys at Poisson rate ``lambda ~ Gamma(r, alpha)``; after each purchase
they drop out with probability ``p ~ Beta(a, b)``. From each buyer's summary ``x`` (repeat
purchases), ``t_x`` (time of the last purchase since the first) and ``T`` (time since the
first purchase) the model gives P(alive), the expected purchases in the next ``t`` and the
probability of at least one.

Why our own code: ``lifetimes``, the usual implementation, is unmaintained (last release 2020)
and does not install with pandas 3; the model is a closed-form likelihood of four parameters,
fitted here with ``scipy.optimize.minimize`` on log-parameters, and ``tests/models/test_bgnbd.py``
checks that it recovers known parameters from data simulated by :func:`simulate`.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize, special
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

PARAMETERS = ("r", "alpha", "a", "b")


def _log_likelihood(log_params: np.ndarray, x, t_x, big_t) -> np.ndarray:
    """Per-customer log-likelihood at ``exp(log_params) = (r, alpha, a, b)``; arrays (n,)."""
    r, alpha, a, b = np.exp(log_params)
    common = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    alive = special.betaln(a, b + x) - special.betaln(a, b) - (r + x) * np.log(alpha + big_t)
    with np.errstate(divide="ignore", invalid="ignore"):
        dead = (
            special.betaln(a + 1, np.maximum(b + x - 1, 1e-12))
            - special.betaln(a, b)
            - (r + x) * np.log(alpha + t_x)
        )
    dead = np.where(x > 0, dead, -np.inf)
    return common + np.logaddexp(alive, dead)


class BetaGeometricNBD(BaseEstimator):
    """BG/NBD fitted by maximum likelihood.

    Parameters
    ----------
    penalty : float
        L2 penalty on the log-parameters (0: plain maximum likelihood); a little keeps the fit
        finite on data with few repeat buyers.

    Attributes
    ----------
    params_ : dict of str to float
        ``r``, ``alpha``, ``a``, ``b``.
    log_likelihood_ : float
        Mean log-likelihood per customer at the optimum.
    """

    def __init__(self, penalty: float = 0.0):
        self.penalty = penalty

    def fit(self, x, t_x, big_t) -> BetaGeometricNBD:
        """Fit on buyers' summaries.

        Parameters
        ----------
        x, t_x, big_t : array-like of shape (n_customers,)
            Repeat purchases, time of the last purchase since the first, and time since the
            first purchase (the same unit, days or weeks); ``0 <= t_x <= big_t``.
        """
        x, t_x, big_t = _check(x, t_x, big_t)

        def loss(log_params):
            penalty = self.penalty * np.sum(log_params**2)
            return -_log_likelihood(log_params, x, t_x, big_t).mean() + penalty

        start = np.log([1.0, max(float(big_t.mean()), 1e-3), 1.0, 1.0])
        result = optimize.minimize(loss, start, method="L-BFGS-B", bounds=[(-10, 10)] * 4)
        self.params_ = dict(zip(PARAMETERS, np.exp(result.x).tolist(), strict=True))
        self.log_likelihood_ = -float(result.fun)
        return self

    def probability_alive(self, x, t_x, big_t) -> np.ndarray:
        """P(alive at ``big_t``) per customer, shape (n_customers,)."""
        check_is_fitted(self)
        x, t_x, big_t = _check(x, t_x, big_t)
        r, alpha, a, b = (self.params_[name] for name in PARAMETERS)
        with np.errstate(divide="ignore", invalid="ignore"):
            odds = a / np.maximum(b + x - 1, 1e-12) * ((alpha + big_t) / (alpha + t_x)) ** (r + x)
        return np.where(x > 0, 1.0 / (1.0 + odds), 1.0)

    def expected_purchases(self, t: float, x, t_x, big_t) -> np.ndarray:
        """Expected purchases in ``(big_t, big_t + t]`` per customer, shape (n_customers,)."""
        check_is_fitted(self)
        x, t_x, big_t = _check(x, t_x, big_t)
        r, alpha, a, b = (self.params_[name] for name in PARAMETERS)
        ratio = (alpha + big_t) / (alpha + big_t + t)
        hyper = special.hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + big_t + t))
        scale = (a + b + x - 1) / (a - 1)  # a < 1 flips the sign of the bracket too
        return scale * (1 - ratio ** (r + x) * hyper) * self.probability_alive(x, t_x, big_t)

    def probability_purchase(self, t: float, x, t_x, big_t) -> np.ndarray:
        """P(at least one purchase in ``(big_t, big_t + t]``), shape (n_customers,).

        Alive customers have the posterior rate ``Gamma(r + x, alpha + big_t)`` and drop out
        only after a purchase, so ``P(none | alive) = ((alpha + T) / (alpha + T + t))^(r + x)``.
        """
        check_is_fitted(self)
        x, t_x, big_t = _check(x, t_x, big_t)
        r, alpha = self.params_["r"], self.params_["alpha"]
        none = ((alpha + big_t) / (alpha + big_t + t)) ** (r + x)
        return self.probability_alive(x, t_x, big_t) * (1.0 - none)


def _check(x, t_x, big_t) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x, t_x, big_t = (np.asarray(v, dtype=float) for v in (x, t_x, big_t))
    if not x.shape == t_x.shape == big_t.shape or x.ndim != 1:
        raise ValueError(f"x, t_x, big_t must be 1-D of one length, got {x.shape}, {t_x.shape}, "
                         f"{big_t.shape}")  # fmt: skip
    if np.any(x < 0) or np.any(t_x < 0) or np.any(t_x > big_t + 1e-9):
        raise ValueError("need x >= 0 and 0 <= t_x <= big_t for every customer")
    return x, t_x, big_t


def simulate(
    n_customers: int, params: dict[str, float], big_t: float, random_state: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Summaries ``(x, t_x, T)`` of customers drawn from BG/NBD, each observed for ``big_t``.

    Returns
    -------
    x, t_x, T : ndarrays of shape (n_customers,)
    """
    rng = np.random.default_rng(random_state)
    lam = rng.gamma(params["r"], 1.0 / params["alpha"], n_customers)
    p = rng.beta(params["a"], params["b"], n_customers)
    x, t_x = np.zeros(n_customers), np.zeros(n_customers)
    alive, now = np.ones(n_customers, bool), np.zeros(n_customers)
    while alive.any():
        now = now + rng.exponential(1.0 / lam)
        bought = alive & (now <= big_t)
        x[bought] += 1
        t_x[bought] = now[bought]
        alive = bought & (rng.random(n_customers) >= p)
    return x, t_x, np.full(n_customers, float(big_t))
