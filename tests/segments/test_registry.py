"""The segmenter goes through the MLflow registry and comes back assigning the same personas."""

from __future__ import annotations

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from workbench import tracking
from workbench.segments import personas, registry


@pytest.mark.slow
def test_registered_champion_reproduces_the_assignments(tracking_uri, planted_features):
    features = planted_features
    params = {"algorithm": "hdbscan", "min_cluster_size": 15}  # predict through kNN
    segmenter = personas.make_segmenter(features, ["context", "affinity"], params, 0)
    labels = segmenter.fit(features).predict(features)
    with mlflow.start_run():
        version = registry.register_segmenter(segmenter, features, "planted", {"stability": 0.9})
    client = MlflowClient()
    champion = client.get_model_version_by_alias("planted-personas", tracking.CHAMPION)
    assert str(champion.version) == version and champion.tags["metric.stability"] == "0.9"
    loaded = registry.load_segmenter("planted")
    assert (loaded.predict(features) == labels).all()
    # a second registration takes the alias: the champion is always the latest persona table
    with mlflow.start_run():
        second = registry.register_segmenter(segmenter, features, "planted")
    assert str(client.get_model_version_by_alias("planted-personas", "champion").version) == second


def test_requirements_are_pinned():
    requirements = registry.pip_requirements()
    assert any(r.startswith("scikit-learn==") for r in requirements)
    assert all("==" in r for r in requirements)
