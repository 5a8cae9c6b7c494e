"""Model selection for personas: internal scores, bootstrap stability and the Optuna search.

A partition is judged by silhouette (higher is better), Davies-Bouldin (lower), Calinski-
Harabasz (higher) and its stability: the mean adjusted Rand index between the personas of a
fit on all users and those of fits on bootstrap resamples, all predicted on every user.
The search maximizes ``selection_score = (1 - noise_share) * silhouette
- max(0, min_stability - stability) - max(0, min_share - smallest_share) / min_share``: a
separation that does not hold up under resampling, or that isolates a handful of outliers, is
not a persona structure. A partition with a number of personas outside the searched range
(DBSCAN and HDBSCAN choose their own) scores -1.

Silhouette (like Davies-Bouldin and Calinski-Harabasz) prefers fewer, coarser groups when two
true groups are close. ``choose_trial`` therefore follows stability-based model order selection
(Ben-Hur et al. 2002, Lange et al. 2004): among trials that are well separated (score within
``tolerance`` of the best) and reproduced by bootstrap refits (stability >= ``stable_ari``), it
takes the one with the most personas; when no trial is that stable, the best score wins.

On large user tables the scores stay cheap: silhouette is computed on a fixed-seed sample of
``sample_size`` points, and stability refits on bootstrap subsamples of at most
``max_samples`` points, compared on a fixed evaluation sample of that size.
The search starts with a k-means sweep over the range of personas (``seed_study``), so every
size has a baseline before the sampler explores the other algorithms.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import (
    adjusted_rand_score,
    calinski_harabasz_score,
    davies_bouldin_score,
    silhouette_score,
)
from sklearn.utils import check_random_state

from workbench.segments.personas import MAX_FIT_SAMPLES, PersonaClusterer

log = logging.getLogger(__name__)

METRIC = "selection_score"
#: Bumped whenever the objective changes, so resumed studies never mix old and new scores.
OBJECTIVE_VERSION = 2


def partition_scores(
    X: np.ndarray, labels: np.ndarray, sample_size: int = 2000, random_state: int | None = 0
) -> dict[str, float]:
    """Internal quality of a partition, noise (label -1) excluded.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    labels : ndarray of shape (n_samples,)
    sample_size : int
        Silhouette is computed on at most this many points (it is quadratic).
    random_state : int or None
        Draws the silhouette sample (fixed by default: same data, same score).

    Returns
    -------
    dict
        ``n_personas``, ``noise_share``, ``smallest_share`` (size of the smallest persona over
        all points), ``silhouette``, ``davies_bouldin``, ``calinski_harabasz``; the last three
        are NaN with fewer than two personas.
    """
    clustered = labels >= 0
    found, sizes = np.unique(labels[clustered], return_counts=True)
    scores = {
        "n_personas": float(len(found)),
        "noise_share": float(1 - clustered.mean()),
        "smallest_share": float(sizes.min() / len(labels)) if len(found) else 0.0,
        "silhouette": np.nan,
        "davies_bouldin": np.nan,
        "calinski_harabasz": np.nan,
    }
    if len(found) < 2:
        return scores
    X, labels = X[clustered], labels[clustered]
    size = min(sample_size, len(X)) if len(X) > sample_size else None
    scores["silhouette"] = float(
        silhouette_score(X, labels, sample_size=size, random_state=random_state)
    )
    scores["davies_bouldin"] = float(davies_bouldin_score(X, labels))
    scores["calinski_harabasz"] = float(calinski_harabasz_score(X, labels))
    return scores


def bootstrap_stability(
    estimator,
    X: np.ndarray,
    n_bootstrap: int = 5,
    random_state: int | None = None,
    reference: np.ndarray | None = None,
    max_samples: int | None = None,
) -> np.ndarray:
    """Adjusted Rand index of bootstrap refits against the full fit, on every point.

    With ``max_samples`` below ``n_samples``, each refit is on a bootstrap subsample of
    ``max_samples`` points and the ARI is taken on a fixed random set of ``max_samples``
    points (the same for every refit), so the cost stops growing with the users.

    Parameters
    ----------
    estimator : clusterer with fit and predict
        Cloned for every fit.
    X : ndarray of shape (n_samples, n_features)
    n_bootstrap : int
    random_state : int or None
    reference : ndarray of shape (n_samples,), optional
        Predictions of the full fit, when already known.
    max_samples : int or None
        Size of the refits' subsamples and of the evaluation set (None: ``n_samples``).

    Returns
    -------
    ndarray of shape (n_bootstrap,)
        One ARI per resample (1 is perfectly stable).
    """
    rng = check_random_state(random_state)
    if reference is None:
        reference = clone(estimator).fit(X).predict(X)
    size = len(X) if max_samples is None else min(len(X), max_samples)
    scored = np.arange(len(X))
    if size < len(X):
        scored = np.sort(rng.choice(len(X), size, replace=False))
    values = np.empty(n_bootstrap)
    for b in range(n_bootstrap):
        rows = rng.randint(0, len(X), size)
        refit = clone(estimator).fit(X[rows])
        values[b] = adjusted_rand_score(reference[scored], refit.predict(X[scored]))
    return values


def selection_score(
    scores: dict[str, float],
    min_stability: float,
    min_share: float,
    n_personas: tuple[int, int] = (2, 1_000),
) -> float:
    """The search objective (see the module docstring).

    -1 when the partition has fewer than two personas or a number outside ``n_personas``
    (density methods choose their own number; the searched range binds them too).
    """
    low, high = max(2, n_personas[0]), n_personas[1]
    if not low <= scores["n_personas"] <= high or np.isnan(scores["silhouette"]):
        return -1.0
    unstable = max(0.0, min_stability - scores["stability"])
    too_small = max(0.0, min_share - scores["smallest_share"]) / min_share if min_share else 0.0
    return (1 - scores["noise_share"]) * scores["silhouette"] - unstable - too_small


def choose_trial(
    trials: pd.DataFrame, tolerance: float = 0.25, stable_ari: float = 0.95
) -> pd.Series:
    """The chosen trial: the finest stable, well-separated partition, else the best score.

    Parameters
    ----------
    trials : DataFrame
        ``trials_table`` output.
    tolerance : float
        Relative shortfall from the best ``selection_score`` still counted as well separated.
    stable_ari : float
        Mean bootstrap ARI from which a partition counts as reproducible.

    Returns
    -------
    Series
        The chosen row: the most personas among the well-separated, stable trials (ties go to
        the higher score); the best-scoring trial when none qualifies.
    """
    best = trials[METRIC].max()
    floor = best - tolerance * abs(best)
    candidates = trials[(trials[METRIC] >= floor) & (trials["stability"] >= stable_ari)]
    if candidates.empty:
        return trials.loc[trials[METRIC].idxmax()]
    return candidates.sort_values(["n_personas", METRIC], ascending=False).iloc[0]


def chosen_params(trial: pd.Series) -> dict:
    """``PersonaClusterer`` parameters of a ``trials_table`` row (its non-missing params)."""
    names = (
        "algorithm",
        "n_clusters",
        "covariance_type",
        "linkage",
        "eps",
        "min_samples",
        "min_cluster_size",
    )
    params = {name: trial[name] for name in names if name in trial and pd.notna(trial[name])}
    for name in ("n_clusters", "min_samples", "min_cluster_size"):
        if name in params:
            params[name] = int(params[name])
    return params


def suggest_params(
    trial,
    algorithms: tuple[str, ...],
    n_personas: tuple[int, int],
    eps_range: tuple[float, float],
    n_samples: int,
) -> dict:
    """The search space: an algorithm, then its own hyperparameters.

    Parameters
    ----------
    trial : optuna.Trial
        Any object with Optuna's ``suggest_*`` methods.
    algorithms : tuple of str
        Among ``ALGORITHMS``.
    n_personas : (int, int)
        Bounds on the number of personas (k-means, mixture, agglomerative).
    eps_range : (float, float)
        Bounds on DBSCAN's radius, from the data's neighbour distances.
    n_samples : int
        Points a fit sees (at most ``MAX_FIT_SAMPLES``), bounding HDBSCAN's smallest cluster.
    """
    algorithm = trial.suggest_categorical("algorithm", list(algorithms))
    params: dict = {"algorithm": algorithm}
    if algorithm in ("kmeans", "gmm", "agglomerative"):
        params["n_clusters"] = trial.suggest_int("n_clusters", *n_personas)
    if algorithm == "gmm":
        params["covariance_type"] = trial.suggest_categorical("covariance_type", ["diag", "tied"])
    if algorithm == "agglomerative":
        params["linkage"] = trial.suggest_categorical("linkage", ["ward", "average"])
    if algorithm == "dbscan":
        params["eps"] = trial.suggest_float("eps", *eps_range, log=True)
    if algorithm in ("dbscan", "hdbscan"):
        params["min_samples"] = trial.suggest_int("min_samples", 3, 20)
    if algorithm == "hdbscan":
        low = max(5, n_samples // 100)
        params["min_cluster_size"] = trial.suggest_int(
            "min_cluster_size", low, max(low, n_samples // 8)
        )
    return params


def evaluate_params(
    params: dict,
    X: np.ndarray,
    n_bootstrap: int,
    random_state: int,
    max_samples: int = MAX_FIT_SAMPLES,
) -> dict:
    """Fit ``PersonaClusterer(**params)`` on ``X``; its partition scores and stability.

    Stability refits on bootstrap subsamples of at most ``max_samples`` points.
    """
    clusterer = PersonaClusterer(**params, random_state=random_state).fit(X)
    scores = partition_scores(X, clusterer.labels_, random_state=random_state)
    if scores["n_personas"] < 2:
        scores["stability"] = 0.0
        return scores
    reference = clusterer.predict(X)
    stability = bootstrap_stability(
        clusterer, X, n_bootstrap, random_state, reference=reference, max_samples=max_samples
    )
    scores["stability"] = float(stability.mean())
    scores["stability_min"] = float(stability.min())
    return scores
