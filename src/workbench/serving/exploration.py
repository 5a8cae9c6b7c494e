"""Exploration over a ranked list: every shown item keeps a propensity above a floor.

The distribution is a softmax of the standardized scores at a temperature, mixed with the
uniform one so that each item's probability is at least ``min_propensity``:
``p = (1 - n * floor) * softmax(z / temperature) + floor``. The logged propensity of the shown
item is its ``p``, which is what off-policy evaluation needs.
"""

from __future__ import annotations

import numpy as np

from workbench.models.base import standardize_rows


def explore(scores: np.ndarray, temperature: float = 1.0, min_propensity: float = 0.01):
    """Probabilities of showing each item.

    Parameters
    ----------
    scores : ndarray of shape (n_items,)
        Finite; higher is better.
    temperature : float
        > 0; lower concentrates on the best items.
    min_propensity : float
        The floor, lowered to ``1 / n_items`` (uniform) when it cannot hold for every item.

    Returns
    -------
    ndarray of shape (n_items,)
        Non-negative, summing to one, each at least ``min(min_propensity, 1 / n_items)``.
    """
    scores = np.asarray(scores, dtype=np.float64)
    n = len(scores)
    logits = standardize_rows(scores[None, :])[0] / temperature
    weights = np.exp(logits - logits.max())
    softmax = weights / weights.sum()
    floor = min(min_propensity, 1.0 / n)
    probabilities = (1.0 - n * floor) * softmax + floor
    return probabilities / probabilities.sum()


def greedy(scores: np.ndarray) -> np.ndarray:
    """All probability on the first best item (exploration off), shape (n_items,)."""
    probabilities = np.zeros(len(scores))
    probabilities[int(np.argmax(scores))] = 1.0
    return probabilities


def draw(probabilities: np.ndarray, rng: np.random.Generator) -> int:
    """The index of one draw from ``probabilities``."""
    cumulative = np.cumsum(probabilities)
    return min(
        int(np.searchsorted(cumulative, rng.random() * cumulative[-1], "right")),
        len(cumulative) - 1,
    )
