"""The model families: estimator, Optuna search space and fixed settings of each.

Other modules join the comparison with ``register("two_tower", Family(...))``; notebooks and
benchmarks pick families by name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import optuna

from workbench.models import ease, factorization, neighbors, popularity
from workbench.models.base import Recommender


@dataclass(frozen=True)
class Family:
    """A model family.

    Attributes
    ----------
    estimator : type of Recommender
    suggest : callable
        ``suggest(trial) -> dict`` of hyperparameters.
    fixed : dict
        Settings passed to every trial and refit (``num_threads``).
    seeded : bool
        Whether the estimator takes ``random_state``.
    """

    estimator: type[Recommender]
    suggest: Callable[[optuna.Trial], dict[str, Any]]
    fixed: dict[str, Any] = field(default_factory=dict)
    seeded: bool = False

    def make(self, params: dict[str, Any] | None = None, seed: int | None = None) -> Recommender:
        """An unfitted estimator with ``params`` over the fixed settings."""
        settings = {**self.fixed, **(params or {})}
        if self.seeded:
            settings["random_state"] = seed
        return self.estimator(**settings)


FAMILIES: dict[str, Family] = {
    "popularity": Family(popularity.Popularity, popularity.suggest),
    "item_knn": Family(neighbors.ItemKNN, neighbors.suggest_item_knn),
    "user_knn": Family(neighbors.UserKNN, neighbors.suggest_user_knn),
    "ease": Family(ease.EASE, ease.suggest),
    "als": Family(factorization.ALS, factorization.suggest_als, seeded=True),
    "bpr": Family(factorization.BPR, factorization.suggest_bpr, seeded=True),
    "svd": Family(factorization.PureSVD, factorization.suggest_svd, seeded=True),
}


def register(name: str, family: Family) -> None:
    """Add (or replace) a family, e.g. a neural model defined elsewhere."""
    FAMILIES[name] = family


def get_family(name: str) -> Family:
    """The family called ``name``; ``KeyError`` listing the known ones otherwise."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise KeyError(f"unknown model family {name!r}; known: {sorted(FAMILIES)}") from None
