"""Persona selection on large tables: mini-batch k-means, fits on a sample, subsampled scores."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.cluster import MiniBatchKMeans
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from workbench.segments.personas import PersonaClusterer
from workbench.segments.selection import bootstrap_stability, evaluate_params, partition_scores


@pytest.fixture(scope="module")
def blobs():
    return make_blobs(n_samples=1200, centers=4, cluster_std=0.7, random_state=4)


@pytest.mark.parametrize("algorithm", ["kmeans", "gmm", "agglomerative"])
def test_beyond_max_fit_samples_every_point_gets_its_planted_persona(blobs, algorithm):
    X, y = blobs
    params = {"n_clusters": 4, "max_fit_samples": 300}
    model = PersonaClusterer(algorithm=algorithm, random_state=0, **params).fit(X)
    assert model.labels_.shape == (1200,)
    assert adjusted_rand_score(y, model.labels_) >= 0.9
    assert isinstance(model.model_, MiniBatchKMeans) == (algorithm == "kmeans")


def test_subsampled_stability_and_sampled_silhouette_are_seeded(blobs):
    X, _ = blobs
    model = PersonaClusterer(n_clusters=4, random_state=0)
    values = bootstrap_stability(model, X, 3, random_state=1, max_samples=200)
    assert values.shape == (3,) and values.min() > 0.9
    again = bootstrap_stability(model, X, 3, random_state=1, max_samples=200)
    np.testing.assert_array_equal(values, again)
    labels = model.fit(X).labels_
    first = partition_scores(X, labels, sample_size=300)
    assert first == partition_scores(X, labels, sample_size=300)
    scores = evaluate_params({"n_clusters": 4}, X, 2, random_state=0, max_samples=300)
    assert scores["stability"] > 0.9 and scores["n_personas"] == 4
