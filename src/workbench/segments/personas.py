"""Clustering users into personas: the feature pipeline and the persona clusterer.

The segmenter is a scikit-learn ``Pipeline``: ``make_preprocessor`` (log-like transforms of
counts and amounts, scaling, one-hot encoding of demographics) followed by ``PersonaClusterer``,
one estimator over k-means, Gaussian mixtures, agglomerative clustering, DBSCAN and HDBSCAN.
Every algorithm gets a ``predict`` that assigns unseen users: k-means and mixtures natively,
agglomerative by nearest centroid, DBSCAN and HDBSCAN by the nearest neighbours among the
clustered (non-noise) training points.

Large user tables: beyond ``max_fit_samples`` points k-means becomes ``MiniBatchKMeans`` on
all of them, and the other algorithms (quadratic in time or memory: agglomerative, DBSCAN,
HDBSCAN; the mixture's restarts) fit on a seeded sample of that size, the other points taking
the persona ``predict`` gives them.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import DBSCAN, HDBSCAN, AgglomerativeClustering, KMeans, MiniBatchKMeans
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.metrics import pairwise_distances_argmin
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
from sklearn.utils.validation import check_is_fitted, check_random_state, validate_data

log = logging.getLogger(__name__)

ALGORITHMS = ("kmeans", "gmm", "agglomerative", "dbscan", "hdbscan")
#: Points beyond which k-means goes mini-batch and the other algorithms fit on a sample:
#: agglomerative clustering took 41 s for five fits on 10,000 points, 1.1 s on 3,000.
MAX_FIT_SAMPLES = 3_000

#: Feature groups a segmentation can use; a column family is a prefix ending in ``_``.
FEATURE_GROUPS: dict[str, dict[str, tuple[str, ...]]] = {
    "rfm": {"log": ("frequency", "monetary"), "numeric": ("recency_days",)},
    "engagement": {
        "log": ("n_sessions", "events_per_session", "days_active"),
        "numeric": ("active_day_share",),
    },
    "context": {"numeric": ("daypart_", "weekend_share", "device_", "channel_")},
    "affinity": {"numeric": ("affinity_",)},
    "demographics": {"numeric": ("age",), "categorical": ("gender", "occupation")},
    "country": {"categorical": ("country",)},
}


def persona_columns(columns: list[str], groups: list[str]) -> dict[str, list[str]]:
    """The feature columns of ``groups`` present in ``columns``, by how they are encoded.

    Parameters
    ----------
    columns : list of str
        Available feature columns.
    groups : list of str
        Keys of ``FEATURE_GROUPS``.

    Returns
    -------
    dict
        ``log`` (counts and amounts: arcsinh, a signed log, then scaled), ``numeric`` (scaled) and
        ``categorical`` (one-hot) column lists; absent columns are left out.
    """
    unknown = sorted(set(groups) - set(FEATURE_GROUPS))
    if unknown:
        raise ValueError(f"unknown feature group(s) {unknown}; known: {sorted(FEATURE_GROUPS)}")
    chosen: dict[str, list[str]] = {"log": [], "numeric": [], "categorical": []}
    for group in groups:
        for kind, names in FEATURE_GROUPS[group].items():
            matches = [c for c in columns if any(_matches(c, name) for name in names)]
            chosen[kind].extend(c for c in matches if c not in chosen[kind])
    return chosen


def _matches(column: str, name: str) -> bool:
    """Whether ``column`` is ``name``, or belongs to the family ``name`` (ending in ``_``)."""
    return column.startswith(name) if name.endswith("_") else column == name


def make_preprocessor(columns: dict[str, list[str]]) -> ColumnTransformer:
    """Encode the chosen feature columns into a dense numeric matrix.

    Counts and amounts: missing -> 0 (a user without purchases bought nothing), then
    ``arcsinh`` (a log transform, ``log(2x)`` for large values, that stays defined for the
    negative net amounts returns can leave), scaled. Other numbers: missing -> median,
    scaled. Categories: missing -> ``"unknown"``, one-hot with rare levels (< 2 %) merged and
    at most 8 levels per column.

    Parameters
    ----------
    columns : dict
        Output of ``persona_columns``.

    Returns
    -------
    ColumnTransformer
        Unfitted; takes the user features DataFrame and drops every other column.
    """
    steps = []
    if columns["log"]:
        log_counts = make_pipeline(
            SimpleImputer(strategy="constant", fill_value=0.0),
            FunctionTransformer(np.arcsinh, feature_names_out="one-to-one"),
            StandardScaler(),
        )
        steps.append(("log", log_counts, columns["log"]))
    if columns["numeric"]:
        numeric = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
        steps.append(("numeric", numeric, columns["numeric"]))
    if columns["categorical"]:
        onehot = make_pipeline(
            SimpleImputer(strategy="constant", fill_value="unknown"),
            OneHotEncoder(
                handle_unknown="infrequent_if_exist",
                min_frequency=0.02,
                max_categories=8,
                sparse_output=False,
            ),
        )
        steps.append(("categorical", onehot, columns["categorical"]))
    if not steps:
        raise ValueError("no persona feature columns: check the feature groups")
    return ColumnTransformer(steps, remainder="drop", sparse_threshold=0.0)


class PersonaClusterer(ClusterMixin, BaseEstimator):
    """One clusterer over several algorithms, with a ``predict`` for unseen users.

    Parameters
    ----------
    algorithm : {"kmeans", "gmm", "agglomerative", "dbscan", "hdbscan"}
    n_clusters : int
        Personas for k-means, the mixture and agglomerative clustering.
    covariance_type : {"full", "diag", "tied", "spherical"}
        Of the Gaussian mixture.
    linkage : {"ward", "average", "complete", "single"}
        Of agglomerative clustering.
    eps : float
        DBSCAN neighbourhood radius.
    min_samples : int
        DBSCAN and HDBSCAN core-point density.
    min_cluster_size : int
        Smallest HDBSCAN cluster.
    n_neighbors : int
        Neighbours voting on an unseen point's persona (DBSCAN, HDBSCAN).
    n_init : int
        Restarts of k-means and the mixture.
    max_fit_samples : int
        Above this many points, k-means runs as ``MiniBatchKMeans`` and the other algorithms
        fit on a seeded sample of this size (see the module docstring).
    random_state : int, RandomState or None

    Attributes
    ----------
    labels_ : ndarray of shape (n_samples,)
        Persona of each training point; -1 is noise (DBSCAN, HDBSCAN only, and only among
        the fitted sample beyond ``max_fit_samples``).
    n_clusters_ : int
        Personas found (noise excluded).
    cluster_centers_ : ndarray of shape (n_clusters_, n_features)
        Mean of each persona's training points.
    model_ : estimator
        The fitted underlying clusterer.
    assigner_ : KNeighborsClassifier or None
        The neighbour vote of DBSCAN and HDBSCAN.
    n_features_in_ : int
    """

    def __init__(
        self,
        algorithm: str = "kmeans",
        n_clusters: int = 5,
        covariance_type: str = "full",
        linkage: str = "ward",
        eps: float = 0.5,
        min_samples: int = 5,
        min_cluster_size: int = 5,
        n_neighbors: int = 5,
        n_init: int = 4,
        max_fit_samples: int = MAX_FIT_SAMPLES,
        random_state: int | np.random.RandomState | None = None,
    ):
        self.algorithm = algorithm
        self.n_clusters = n_clusters
        self.covariance_type = covariance_type
        self.linkage = linkage
        self.eps = eps
        self.min_samples = min_samples
        self.min_cluster_size = min_cluster_size
        self.n_neighbors = n_neighbors
        self.n_init = n_init
        self.max_fit_samples = max_fit_samples
        self.random_state = random_state

    def fit(self, X, y=None):
        """Cluster ``X`` of shape (n_samples, n_features); returns ``self``."""
        X = validate_data(self, X, dtype=np.float64)
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm={self.algorithm!r}; expected one of {ALGORITHMS}")
        random_state = check_random_state(self.random_state)
        large = len(X) > self.max_fit_samples
        self.model_ = self._make_model(random_state, minibatch=large)
        rows = None
        if large and self.algorithm != "kmeans":
            rows = np.sort(random_state.choice(len(X), self.max_fit_samples, replace=False))
        fitted = X if rows is None else X[rows]
        labels = np.asarray(self.model_.fit_predict(fitted), dtype=np.int64)
        clustered = labels >= 0
        found = np.unique(labels[clustered])
        self.n_clusters_ = len(found)
        self.cluster_centers_ = np.array([fitted[labels == k].mean(axis=0) for k in found])
        self.cluster_centers_ = self.cluster_centers_.reshape(len(found), X.shape[1])
        self.labels_ = labels
        self.assigner_ = None
        if self.algorithm in ("dbscan", "hdbscan") and clustered.any():
            k = min(self.n_neighbors, int(clustered.sum()))
            self.assigner_ = KNeighborsClassifier(n_neighbors=k)
            self.assigner_.fit(fitted[clustered], labels[clustered])
        if rows is not None:
            self.labels_ = self.predict(X)
            self.labels_[rows] = labels
        return self

    def _make_model(self, random_state: np.random.RandomState, minibatch: bool = False):
        """The unfitted underlying clusterer (``MiniBatchKMeans`` for k-means if ``minibatch``)."""
        seed = random_state.randint(np.iinfo(np.int32).max)
        if self.algorithm == "kmeans" and minibatch:
            return MiniBatchKMeans(
                self.n_clusters, n_init=self.n_init, batch_size=4096, random_state=seed
            )
        if self.algorithm == "kmeans":
            return KMeans(self.n_clusters, n_init=self.n_init, random_state=seed)
        if self.algorithm == "gmm":
            return GaussianMixture(
                self.n_clusters,
                covariance_type=self.covariance_type,
                n_init=self.n_init,
                reg_covar=1e-4,
                random_state=seed,
            )
        if self.algorithm == "agglomerative":
            return AgglomerativeClustering(self.n_clusters, linkage=self.linkage)
        if self.algorithm == "dbscan":
            return DBSCAN(eps=self.eps, min_samples=self.min_samples)
        return HDBSCAN(
            min_cluster_size=max(2, self.min_cluster_size),
            min_samples=self.min_samples,
            copy=True,
        )

    def predict(self, X) -> np.ndarray:
        """Persona of each row of ``X`` (n_samples, n_features) -> ndarray (n_samples,)."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        if self.algorithm in ("kmeans", "gmm"):
            return np.asarray(self.model_.predict(X), dtype=np.int64)
        if self.algorithm == "agglomerative":
            nearest = pairwise_distances_argmin(X, self.cluster_centers_)
            return np.unique(self.labels_)[nearest].astype(np.int64)
        if self.assigner_ is None:
            return np.full(len(X), -1, dtype=np.int64)
        return np.asarray(self.assigner_.predict(X), dtype=np.int64)


def make_segmenter(
    features: pd.DataFrame, groups: list[str], params: dict, random_state: int | None = None
) -> Pipeline:
    """The unfitted segmenter: preprocessing of ``groups`` then ``PersonaClusterer(**params)``.

    Parameters
    ----------
    features : DataFrame of shape (n_users, n_features)
        Only its column names are read.
    groups : list of str
        Keys of ``FEATURE_GROUPS``.
    params : dict
        ``PersonaClusterer`` parameters (a study's best parameters).
    random_state : int or None
    """
    columns = persona_columns(list(features.columns), groups)
    clusterer = PersonaClusterer(**params, random_state=random_state)
    return Pipeline([("features", make_preprocessor(columns)), ("personas", clusterer)])
