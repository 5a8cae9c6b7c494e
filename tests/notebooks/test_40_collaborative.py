"""Run the real 40_collaborative notebook with papermill and read what the run recorded."""

from __future__ import annotations

import mlflow
import pandas as pd
import pytest

from workbench.data import store
from workbench.data.sources import synthetic

pytestmark = [pytest.mark.notebooks, pytest.mark.slow]


def write_curated(home) -> None:
    """A small curated synthetic data set under ``home``; two users without consent."""
    tables = synthetic.generate(n_users=150, n_items=40, n_days=10, seed=3)
    users = tables["users"][["user_id"]].copy()
    users["personalization_allowed"] = True
    users.loc[users.index[:2], "personalization_allowed"] = False
    store.write_tables(
        home / "data" / "curated" / "synthetic", {"events": tables["events"], "users": users}
    )


def test_notebook_tunes_compares_and_registers(tmp_path, run_notebook):
    write_curated(tmp_path)
    metrics = run_notebook(
        "40_collaborative",
        families=["popularity", "ease", "als"],
    )
    assert metrics["served_same_lists"] == 1.0
    assert 0.0 < metrics["best.ndcg_at_10"] <= 1.0
    assert {"popularity.ndcg_at_10", "ease.fit_seconds", "als.map"} <= set(metrics)

    runs = mlflow.search_runs(search_all_experiments=True)
    families = runs.dropna(subset=["tags.workbench.family"])
    assert set(families["tags.workbench.family"]) == {"popularity", "ease", "als"}
    trials = runs.dropna(subset=["tags.optuna.trial"])
    assert len(trials) == 1 + 2 + 2  # popularity has no search space; smoke budget is 2
    assert set(trials["tags.mlflow.parentRunId"]) <= set(families["run_id"])

    champion = mlflow.MlflowClient().get_model_version_by_alias("synthetic-recommender", "champion")
    served = mlflow.pyfunc.load_model("models:/synthetic-recommender@champion").predict(
        pd.DataFrame({"user_id": ["never-seen"]})
    )
    assert champion.tags["metric.ndcg_at_10"]
    assert bool(served.loc[0, "fallback"]) and len(served.loc[0, "item_ids"]) == 10


def test_an_interactive_run_registers_nothing_and_never_moves_an_alias(tmp_path, run_notebook):
    write_curated(tmp_path)
    run_notebook("40_collaborative", interactive=True, families=["popularity"])
    client = mlflow.MlflowClient()
    assert not client.search_registered_models()  # register is false outside the runner
    run_notebook("40_collaborative", interactive=True, families=["popularity"], register=True)
    (model,) = client.search_registered_models()
    (version,) = client.search_model_versions(f"name = '{model.name}'")
    assert not version.aliases  # asked to register: it does, but leaves the aliases alone
    executed = tmp_path / "40_collaborative.out.ipynb"
    images = executed.read_text().count('"image/png"')
    assert images == len(list((tmp_path / "run" / "plots").glob("*.png")))  # each plot once
