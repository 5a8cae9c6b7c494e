"""Run the real 30_content_based notebook with papermill and read what the run recorded."""

from __future__ import annotations

import mlflow
import pandas as pd
import pytest

from workbench.data import store
from workbench.data.sources import synthetic

pytestmark = [pytest.mark.notebooks, pytest.mark.slow]


def write_curated(home) -> None:
    """A small curated synthetic data set (events, users, items) under ``home``."""
    tables = synthetic.generate(n_users=200, n_items=60, n_days=10, seed=5)
    users = tables["users"][["user_id"]].copy()
    users["personalization_allowed"] = True
    users.loc[users.index[:2], "personalization_allowed"] = False
    store.write_tables(
        home / "data" / "curated" / "synthetic",
        {"events": tables["events"], "users": users, "items": tables["items"]},
    )


def test_notebook_compares_explains_and_registers(tmp_path, run_notebook):
    write_curated(tmp_path)
    metrics = run_notebook(
        "30_content_based",
        cf_families=["popularity", "ease"],
    )
    for model in ("popularity", "ease", "content", "hybrid", "two_tower"):
        assert 0.0 <= metrics[f"{model}.ndcg_at_10"] <= 1.0
        assert f"{model}.coldstart_ndcg_at_10" in metrics
    assert metrics["similar_items_with_terms"] > 0.5

    runs = mlflow.search_runs(search_all_experiments=True)
    families = set(runs["tags.workbench.family"].dropna())
    assert {"popularity", "ease", "content", "hybrid", "two_tower"} <= families
    two_tower = runs[runs["tags.workbench.family"] == "two_tower"].iloc[0]
    curve = mlflow.MlflowClient().get_metric_history(two_tower["run_id"], "two_tower.loss")
    assert len(curve) >= 2 and [m.step for m in curve] == sorted(m.step for m in curve)

    for name in ("synthetic-content", "synthetic-two-tower"):
        served = mlflow.pyfunc.load_model(f"models:/{name}@champion").predict(
            pd.DataFrame({"user_id": ["never-seen"]})
        )
        assert bool(served.loc[0, "fallback"]) and len(served.loc[0, "item_ids"]) == 10
