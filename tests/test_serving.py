"""The registered pyfunc loads back and serves the same lists; unknown users get popularity."""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from workbench import tracking
from workbench.data.interactions import IdMap
from workbench.models.ease import EASE
from workbench.serving import RecommenderService, log_service, pip_requirements


def make_service() -> RecommenderService:
    user_items = sp.random(12, 9, density=0.3, format="csr", random_state=1, dtype=np.float32)
    user_items.data[:] = 1.0
    users = IdMap(np.array([f"user-{i}" for i in range(12)], dtype=object))
    items = IdMap(np.array([f"item-{i}" for i in range(9)], dtype=object))
    return RecommenderService.from_fitted(EASE(l2=1.0).fit(user_items), user_items, users, items, 3)


def test_known_users_get_the_models_lists_and_unknown_ones_popularity():
    service = make_service()
    answer = service.predict(None, pd.DataFrame({"user_id": ["user-2", "stranger"]}))
    items, _ = service.model.recommend(2, service.user_items, k=3)
    assert answer.loc[0, "item_ids"] == service.items.to_ids(items).tolist()
    assert not set(answer.loc[0, "item_ids"]) & set(
        service.items.to_ids(service.user_items[2].indices)
    )
    popular = np.diff(service.user_items.tocsc().indptr)
    assert answer.loc[1, "fallback"] and answer.loc[1, "scores"][0] == popular.max()


def test_k_per_request_row():
    answer = make_service().predict(None, pd.DataFrame({"user_id": ["user-1", "x"], "k": [1, 4]}))
    assert [len(ids) for ids in answer["item_ids"]] == [1, 4]


def test_requirements_are_pinned():
    pins = pip_requirements()
    assert any(pin.startswith("mlflow==") for pin in pins)
    assert all("==" in pin for pin in pins)


@pytest.mark.slow
def test_registered_champion_serves_the_same_lists(tracking_uri, tmp_path):
    service = make_service()
    request = pd.DataFrame({"user_id": ["user-0", "user-5", "nobody"], "k": [3, 2, 3]})
    experiment = tracking.ensure_experiment("serving-test", tmp_path / "artifacts")
    with mlflow.start_run(experiment_id=experiment):
        info = log_service(service, registered_model_name="test-recommender")
    version = info.registered_model_version
    assert tracking.set_alias_if_better("test-recommender", version, "ndcg_at_10", 0.4)
    loaded = mlflow.pyfunc.load_model("models:/test-recommender@champion")
    pd.testing.assert_frame_equal(loaded.predict(request), service.predict(None, request))
