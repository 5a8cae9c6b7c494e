"""The segmenter goes through the MLflow registry and comes back assigning the same personas."""

from __future__ import annotations

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from workbench.publish import CHAMPION, SegmenterModel, publish, segmenter
from workbench.publish.registry import pip_requirements
from workbench.segments import personas


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
    fitted = personas.make_segmenter(features, groups, params, 0)
    labels = fitted.fit(features).predict(features)
    model = SegmenterModel(fitted)
    with mlflow.start_run():
        first = publish(model, "planted-personas", features, version_metrics={"stability": 0.9})
    client = MlflowClient()
    champion = client.get_model_version_by_alias("planted-personas", CHAMPION)
    assert str(champion.version) == first.version and first.champion and first.reproduced
    assert champion.tags["metric.stability"] == "0.9"
    loaded = segmenter.load_segmenter("models:/planted-personas@champion")
    assert (loaded.predict(features) == labels).all()
    # a second publication takes the alias: the champion is always the latest persona table
    with mlflow.start_run():
        second = publish(model, "planted-personas", features)
    assert (
        str(client.get_model_version_by_alias("planted-personas", CHAMPION).version)
        == second.version
    )


def test_trusted_types_come_from_known_modules_only(planted_features):
    params = {"algorithm": "dbscan", "eps": 0.5}
    fitted = personas.make_segmenter(planted_features, ["rfm"], params, 0).fit(planted_features)
    trusted = segmenter.trusted_types(fitted)
    assert "sklearn.neighbors._kd_tree.KDTree" in trusted
    assert "workbench.segments.personas.PersonaClusterer" in trusted
    fitted.steps.append(("extra", Foreign()))
    with pytest.raises(TypeError, match="untrusted modules.*Foreign"):
        segmenter.trusted_types(fitted)


class Foreign:
    """A type from a module the registry does not trust (this test module)."""

    def __init__(self):
        self.value = 1


def test_requirements_are_pinned():
    requirements = pip_requirements(segmenter.REQUIREMENTS)
    assert any(r.startswith("scikit-learn==") for r in requirements)
    assert all("==" in r for r in requirements)
