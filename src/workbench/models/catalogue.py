"""The catalogue of model families: every recommender the workbench compares, by name.

Each entry holds the estimator, its Optuna search space (``suggest(trial) -> dict``, next to
the model), fixed settings, and whether it is seeded; the estimator's class attributes say
whether it needs item features (``needs_item_features``) and trains in epochs
(``iterative``). Notebooks, workflows and benchmarks pick families by name.

The catalogue is explicit: adding a model is one module under ``workbench.models``, one line
in ``FAMILIES`` below, and one fixture entry (its small settings, its side data) in the
contract suite ``tests/models/test_recommenders.py``, which then runs every contract and
known-answer test against it. Importing the catalogue stays cheap: TensorFlow is imported only
when a two-tower model is fit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from workbench.models import (
    blend,
    bpr,
    content,
    ease,
    factorization,
    hybrid,
    neighbors,
    neural,
    popularity,
)
from workbench.models.base import Recommender


@dataclass(frozen=True)
class Family:
    """A model family.

    Attributes
    ----------
    estimator : type of Recommender
    suggest : callable
        ``suggest(trial) -> dict`` of hyperparameters, ``trial`` an ``optuna.Trial``.
    fixed : dict
        Settings passed to every trial and refit (``num_threads``).
    seeded : bool
        Whether the estimator takes ``random_state``.
    """

    estimator: type[Recommender]
    suggest: Callable[..., dict[str, Any]]
    fixed: dict[str, Any] = field(default_factory=dict)
    seeded: bool = False

    @property
    def needs_item_features(self) -> bool:
        """Whether ``fit`` requires ``item_features`` (content and hybrid models)."""
        return self.estimator.needs_item_features

    @property
    def iterative(self) -> bool:
        """Whether the estimator trains in epochs and calls back after each."""
        return self.estimator.iterative

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
    # uniform negatives (implicit's BPR draws them by popularity and stalls near 0.36 on
    # MovieLens 100K; see models/bpr.py); one thread, so the same seed gives the same model
    "bpr": Family(bpr.BPR, bpr.suggest, seeded=True),
    # implicit's BPR, kept for comparison; one thread: it updates factors lock-free in
    # parallel (Hogwild), so more threads give a different model on every run
    "bpr_implicit": Family(
        factorization.BPR, factorization.suggest_bpr, fixed={"num_threads": 1}, seeded=True
    ),
    "svd": Family(factorization.PureSVD, factorization.suggest_svd, seeded=True),
    "rp3beta": Family(blend.RP3beta, blend.suggest_rp3beta),
    "blend": Family(blend.Blend, blend.suggest_blend, seeded=True),
    "content": Family(content.ContentRecommender, content.suggest),
    "hybrid": Family(hybrid.HybridRecommender, hybrid.suggest),
    "two_tower": Family(neural.TwoTowerRecommender, neural.suggest, seeded=True),
}


def get_family(name: str) -> Family:
    """The family called ``name``; ``KeyError`` listing the known ones otherwise."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise KeyError(f"unknown model family {name!r}; known: {sorted(FAMILIES)}") from None
