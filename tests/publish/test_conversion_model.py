"""The conversion model goes through the registry and answers with the same probabilities."""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from workbench.models import conversion
from workbench.publish import CHAMPION, ConversionModel, publish


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    features = pd.DataFrame({"n_sessions": rng.poisson(4, 400).astype(float),
                             "recency_days": rng.uniform(0, 30, 400)})  # fmt: skip
    y = (rng.random(400) < 1 / (1 + np.exp(-(features["n_sessions"] - 4)))).astype(float)
    model, method = conversion.fit_family("logistic", {"C": 1.0}, (features[:300], y[:300]),
                                          (features[300:], y[300:]))  # fmt: skip
    return ConversionModel(model, list(features.columns), 30.0), features


def test_answers_are_probabilities_and_bad_input_names_the_column(fitted):
    model, features = fitted
    answer = model.answer(features)
    assert list(answer.columns) == ["p_no_conversion", "p_conversion"]
    assert np.allclose(answer.sum(axis=1), 1.0) and answer["p_conversion"].between(0, 1).all()
    with pytest.raises(ValueError, match=r"feature columns missing: \['recency_days'\]"):
        model.answer(features[["n_sessions"]])


@pytest.mark.slow
def test_the_registered_champion_loads_back_with_the_same_probabilities(tracking_uri, fitted):
    model, features = fitted
    with mlflow.start_run():
        published = publish(model, "toy-conversion", features, "log_loss", 0.5,
                             higher_is_better=False)  # fmt: skip
    assert published.champion and published.reproduced
    champion = MlflowClient().get_model_version_by_alias("toy-conversion", CHAMPION)
    loaded = mlflow.pyfunc.load_model("models:/toy-conversion@champion")
    assert str(champion.version) == published.version
    pd.testing.assert_frame_equal(loaded.predict(features), model.answer(features))
    assert loaded.metadata.get_input_schema().input_names() == ["n_sessions", "recency_days"]
