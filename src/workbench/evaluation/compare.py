"""Paired comparison of two models on the same users: a bootstrap interval of the difference.

Used by the champion gate and by ``70_compare_register``: per-user scores of a challenger and
of a champion on the same test users are resampled together (users, with replacement), so the
interval reflects how much the difference depends on which users happened to be tested.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PairedDifference:
    """Mean difference ``challenger - champion`` and its bootstrap percentile interval."""

    difference: float
    lower: float
    upper: float
    n_users: int

    def excludes_zero(self) -> bool:
        return self.lower > 0.0 or self.upper < 0.0


def paired_bootstrap(
    challenger: np.ndarray,
    champion: np.ndarray,
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    random_state: int = 0,
) -> PairedDifference:
    """Bootstrap interval of the mean of ``challenger - champion`` over the same users.

    Parameters
    ----------
    challenger, champion : ndarray of shape (n_users,)
        Per-user scores (nDCG@k) of two models on the same users, in the same order.
    n_bootstrap : int
    confidence : float in (0, 1)
    random_state : int

    Returns
    -------
    PairedDifference
    """
    challenger, champion = np.asarray(challenger, float), np.asarray(champion, float)
    if challenger.shape != champion.shape or challenger.ndim != 1:
        raise ValueError(
            f"per-user scores must be 1-D and paired, got {challenger.shape} and {champion.shape}"
        )
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    differences = challenger - champion
    if differences.size == 0:
        return PairedDifference(float("nan"), float("nan"), float("nan"), 0)
    rng = np.random.default_rng(random_state)
    draws = rng.integers(0, differences.size, size=(n_bootstrap, differences.size))
    means = differences[draws].mean(axis=1)
    tail = (1.0 - confidence) / 2.0
    lower, upper = np.quantile(means, [tail, 1.0 - tail])
    return PairedDifference(float(differences.mean()), float(lower), float(upper), differences.size)


def bootstrap_interval(
    values: np.ndarray, n_bootstrap: int = 1000, confidence: float = 0.95, random_state: int = 0
) -> tuple[float, float]:
    """Bootstrap percentile interval of the mean of per-user ``values``."""
    result = paired_bootstrap(values, np.zeros_like(values, dtype=float), n_bootstrap, confidence,
                              random_state)  # fmt: skip
    return result.lower, result.upper
