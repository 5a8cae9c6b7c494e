"""The feedback loop: the registered champion recommender warm-updated on new pairs."""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
import pytest

from workbench.data.interactions import interaction_pairs
from workbench.data.splits import prepare_splits
from workbench.models.catalogue import get_family
from workbench.workflows import feedback
from workbench.workflows.results import FamilyResult, publish_result


def _pairs(n_users: int, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(n_users):
        liked = np.flatnonzero(np.arange(30) % 3 == user % 3)
        for item in rng.choice(liked, 7, replace=False):
            rows.append((f"u{user}", f"i{item}", pd.Timestamp("2026-01-01", tz="UTC")))
    return interaction_pairs(pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"]))


@pytest.mark.slow  # registers and loads an MLflow model: ~20 s
def test_the_champion_is_updated_with_what_changed_logged(tracking_uri):
    old = prepare_splits(_pairs(60), "stratified", 0.75, 0.75, 42)
    assert feedback.updatable_champion("site-recommender") is None  # nothing registered yet
    model = get_family("als").make({"factors": 8, "iterations": 5}, seed=0).fit(old.train)
    with mlflow.start_run():
        publish_result(
            FamilyResult("als", model, {}, 0.0, {"ndcg_at_10": 0.0}), old, "site-recommender"
        )
    champion = feedback.updatable_champion("site-recommender")
    new = prepare_splits(_pairs(70), "stratified", 0.75, 0.75, 42)  # 10 more users
    with mlflow.start_run():
        (result,) = feedback.warm_start_results(champion, new, k=10)
    assert result.name == "als_warm" and result.params["method"] == "partial_fit"
    assert result.params["users_added"] == 10 and result.params["pairs_appended"] > 0
    assert result.model.user_factors_.shape[0] == new.train.shape[0]
    assert champion.model.user_factors_.shape[0] == old.train.shape[0]  # the champion is untouched
    assert {"ndcg_at_10", "ndcg_at_10_before_update", "fit_seconds"} <= set(result.metrics)
    logged = mlflow.search_runs(
        search_all_experiments=True, filter_string="tags.mlflow.runName = 'warm_start'"
    )
    assert logged["params.users_added"].tolist() == ["10"]
