"""Run the real 60_bandits notebook with papermill and read what the run recorded."""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
import pytest

from workbench.data import store
from workbench.data.sources import synthetic

pytestmark = [pytest.mark.notebooks, pytest.mark.slow]
POLICIES = ["epsilon_greedy", "bernoulli_ts", "linucb"]


def write_curated(home) -> None:
    """A small curated synthetic site with personas (the planted segments) as context."""
    tables = synthetic.generate(n_users=300, n_items=60, n_days=10, seed=3)
    users = tables["users"][["user_id", "age", "gender"]].copy()
    users["personalization_allowed"] = True
    users.loc[users.index[:5], "personalization_allowed"] = False
    personas = pd.DataFrame(
        {"user_id": tables["users"]["user_id"], "persona": tables["users"]["planted_segment"]}
    )
    store.write_tables(
        home / "data" / "curated" / "synthetic",
        {
            "events": tables["events"],
            "users": users,
            "items": tables["items"],
            "personas": personas,
        },
    )


def test_notebook_tunes_evaluates_and_registers_the_policy(tmp_path, run_notebook):
    write_curated(tmp_path)
    metrics = run_notebook(
        "60_bandits",
        policies=POLICIES,
        n_bootstrap=50,
    )
    assert metrics["valid_probabilities"] == 1.0
    assert 0.0 < metrics["policy_value"] <= metrics["optimal_value"] <= 1.0
    assert {f"{name}.regret" for name in [*POLICIES, "uniform"]} <= set(metrics)
    assert metrics["uniform.regret"] > metrics["linucb.regret"]
    assert all(metrics[f"ope.{name}.relative_error"] >= 0 for name in ("ips", "dr", "sndr"))
    for name in POLICIES:  # tuned on logs, valued on held-out logs, then set against the truth
        estimate = metrics[f"{name}.held_out_estimate"]
        truth = metrics[f"{name}.held_out_true_value"]
        assert 0.0 < estimate < 1.0 and 0.0 < truth <= metrics["optimal_value"]
        assert metrics[f"{name}.held_out_error"] == pytest.approx(estimate - truth)
    assert 0.0 <= metrics["held_out_coverage"] <= 1.0

    runs = mlflow.search_runs(search_all_experiments=True)
    notebook_run = runs[runs["tags.workbench.notebook"] == "60_bandits"].iloc[0]
    assert notebook_run["tags.bandits.context"] == "personas"
    trials = runs.dropna(subset=["tags.optuna.trial"])
    assert len(trials) == 2 * len(POLICIES)  # smoke budget is 2 trials per family
    assert (trials["metrics.logged_value_lower"] <= trials["metrics.logged_value_upper"]).all()
    assert set(trials["tags.mlflow.parentRunId"]) == {notebook_run["run_id"]}
    artifacts = {
        a.path for a in mlflow.MlflowClient().list_artifacts(notebook_run["run_id"], "plots")
    }
    assert {
        "plots/cumulative_reward_regret.png",
        "plots/ope_estimates.png",
        "plots/held_out_vs_truth.png",
        "plots/arm_choices.png",
        "plots/ab_vs_bandit_regret.png",
    } <= artifacts

    champion = mlflow.MlflowClient().get_model_version_by_alias("synthetic-policy", "champion")
    assert champion.tags["metric.policy_value"]
    model = mlflow.pyfunc.load_model("models:/synthetic-policy@champion")
    features = model.metadata.get_input_schema().input_names()
    assert len(features) == 4  # one per planted segment
    served = model.predict(pd.DataFrame(np.eye(len(features)), columns=features)).to_numpy()
    assert (served >= 0).all()
    np.testing.assert_allclose(served.sum(axis=1), 1.0)
