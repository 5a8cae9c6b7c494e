"""The segmenter goes through the MLflow registry and comes back assigning the same personas."""

from __future__ import annotations

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from workbench import tracking
from workbench.segments import personas, registry


@pytest.mark.slow
@pytest.mark.parametrize(
    ("groups", "params"),
    [
        (["context", "affinity"], {"algorithm": "hdbscan", "min_cluster_size": 15}),
        (["rfm"], {"algorithm": "dbscan", "eps": 0.5}),  # few columns: a KD-tree inside
    ],
)
def test_registered_champion_reproduces_the_assignments(
    tracking_uri, planted_features, groups, params
):
    features = planted_features
    segmenter = personas.make_segmenter(features, groups, params, 0)
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


def test_trusted_types_come_from_known_modules_only(planted_features):
    params = {"algorithm": "dbscan", "eps": 0.5}
    segmenter = personas.make_segmenter(planted_features, ["rfm"], params, 0).fit(planted_features)
    trusted = registry.trusted_types(segmenter)
    assert "sklearn.neighbors._kd_tree.KDTree" in trusted
    assert "workbench.segments.personas.PersonaClusterer" in trusted
    segmenter.steps.append(("extra", Foreign()))
    with pytest.raises(TypeError, match="untrusted modules.*Foreign"):
        registry.trusted_types(segmenter)


class Foreign:
    """A type from a module the registry does not trust (this test module)."""

    def __init__(self):
        self.value = 1


def test_requirements_are_pinned():
    requirements = registry.pip_requirements()
    assert any(r.startswith("scikit-learn==") for r in requirements)
    assert all("==" in r for r in requirements)
