"""The registered pyfunc loads back and serves the same lists; unknown users get popularity."""

from __future__ import annotations

import json

import mlflow
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from mlflow.exceptions import MlflowException

from workbench import tracking
from workbench.data.interactions import IdMap
from workbench.models.ease import EASE
from workbench.publish import RecommenderService, publish, recommender
from workbench.publish.gate import alias_history
from workbench.publish.registry import pip_requirements


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
    assert answer.loc[1, "fallback"] and answer.loc[1, "score_kind"] == "popularity_share"
    assert answer.loc[1, "scores"][0] == popular.max() / service.user_items.shape[0]
    assert answer.loc[0, "score_kind"] == "model"


def test_k_up_to_n_items_returns_only_unseen_items_with_finite_scores():
    service = make_service()
    users = [f"user-{i}" for i in range(12)] + ["stranger"]
    answer = service.predict(None, pd.DataFrame({"user_id": users, "k": 9}))
    for row in range(12):
        seen = set(service.items.to_ids(service.user_items[row].indices))
        assert set(answer.loc[row, "item_ids"]) == set(service.items.ids) - seen
    assert len(answer.loc[12, "item_ids"]) == 9
    json.dumps(answer.to_dict(orient="records"), allow_nan=False)  # valid JSON: no NaN, no inf


@pytest.mark.parametrize("k", [0, -3, 10, 400, 2.5, "3", None, True])
def test_k_outside_one_to_n_items_is_an_error_naming_it(k):
    with pytest.raises(ValueError, match=f"k must be an integer from 1 to 9, got {k!r}"):
        make_service().check_k(k)


@pytest.mark.parametrize("user_id", [None, np.nan, "", "  ", 3.5])
def test_null_or_invalid_ids_are_errors(user_id):
    service = make_service()
    with pytest.raises(ValueError, match="user_id must be a non-blank string"):
        service.recommend(["user-1", user_id])
    with pytest.raises(MlflowException, match="row 1") as raised:
        service.predict(None, pd.DataFrame({"user_id": ["user-1", user_id]}))
    assert raised.value.error_code == "INVALID_PARAMETER_VALUE"


def test_excluded_items_are_never_returned():
    service = make_service()
    first = service.recommend(["user-3"], k=2)["item_ids"][0]
    again = service.recommend(["user-3"], k=2, exclude=[first + ["no-such-item"]])["item_ids"][0]
    assert not set(first) & set(again)


def test_k_per_request_row():
    answer = make_service().predict(None, pd.DataFrame({"user_id": ["user-1", "x"], "k": [1, 4]}))
    assert [len(ids) for ids in answer["item_ids"]] == [1, 4]
    with pytest.raises(MlflowException, match="got -3"):
        make_service().predict(None, pd.DataFrame({"user_id": ["user-1", "x"], "k": [1, -3]}))


def test_requirements_are_pinned():
    pins = pip_requirements(recommender.REQUIREMENTS)
    assert any(pin.startswith("mlflow==") for pin in pins)
    assert all("==" in pin for pin in pins)


@pytest.mark.slow
def test_registered_champion_serves_the_same_lists(tracking_uri, tmp_path):
    service = make_service()
    request = pd.DataFrame({"user_id": ["user-0", "user-5", "nobody"], "k": [3, 2, 3]})
    experiment = tracking.ensure_experiment("serving-test", tmp_path / "artifacts")
    with mlflow.start_run(experiment_id=experiment):
        first = publish(service, "test-recommender", request, "ndcg_at_10", 0.4)
    assert first.champion and first.reproduced and first.version == "1"
    loaded = mlflow.pyfunc.load_model("models:/test-recommender@champion")
    pd.testing.assert_frame_equal(loaded.predict(request), service.predict(None, request))


@pytest.mark.slow
def test_gate_keeps_the_champion_on_a_tie_and_moves_on_a_clear_win(tracking_uri, tmp_path):
    service = make_service()
    request = pd.DataFrame({"user_id": ["user-0", "nobody"]})
    experiment = tracking.ensure_experiment("gate-test", tmp_path / "artifacts")
    value = 0.419972123456  # rounding it to 6 digits for the tag once made ties promote
    with mlflow.start_run(experiment_id=experiment):
        first = publish(service, "gated", request, "ndcg_at_10", value)
        tie = publish(service, "gated", request, "ndcg_at_10", value)
        loss = publish(service, "gated", request, "ndcg_at_10", value - 0.1)
        win = publish(service, "gated", request, "ndcg_at_10", value + 1e-9)
    assert [p.champion for p in (first, tie, loss, win)] == [True, False, False, True]
    client = mlflow.tracking.MlflowClient()
    assert str(client.get_model_version_by_alias("gated", "champion").version) == win.version
    assert str(client.get_model_version_by_alias("gated", "challenger").version) == loss.version
    history = [move["version"] for move in alias_history("gated") if move["alias"] == "champion"]
    assert history == [first.version, win.version]  # every alias move recorded, in order


def test_nothing_is_registered_when_registration_is_off(tracking_uri):
    published = publish(
        make_service(),
        "never",
        pd.DataFrame({"user_id": ["user-0"]}),
        "ndcg_at_10",
        1.0,
        register=False,
    )
    assert published.version is None and not published.champion
    assert not mlflow.tracking.MlflowClient().search_registered_models()
