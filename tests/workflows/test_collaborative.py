"""The collaborative experiment: splits share maps, tuning uses validation only, trials nest."""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
import pytest

from workbench import tracking
from workbench.data.interactions import interaction_pairs
from workbench.data.splits import prepare_splits
from workbench.models.catalogue import FAMILIES
from workbench.tuning import Budget
from workbench.workflows import collaborative
from workbench.workflows.results import comparison_table, select_best


@pytest.fixture(scope="module")
def pairs() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n_users, n_items = 60, 25
    taste = rng.integers(0, 3, n_users)
    rows = []
    for user in range(n_users):
        liked = np.flatnonzero(np.arange(n_items) % 3 == taste[user])
        others = rng.choice(n_items, 2, replace=False)
        for item in np.unique(np.concatenate([rng.choice(liked, 6, replace=False), others])):
            rows.append((f"u{user}", f"i{item}", pd.Timestamp("2026-01-01", tz="UTC")))
    events = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"])
    return interaction_pairs(pd.concat([events, events.head(10)]))


def test_pairs_are_unique_with_event_counts(pairs):
    assert not pairs.duplicated(["user_id", "item_id"]).any()
    assert pairs["n_events"].max() == 2


def test_splits_share_maps_and_validation_comes_from_train(pairs):
    data = prepare_splits(pairs, seed=1)
    shapes = {m.shape for m in (data.train, data.test, data.fit, data.valid)}
    assert shapes == {(len(data.users), len(data.items))}
    assert (data.fit + data.valid - data.train).nnz == 0
    assert data.train.multiply(data.test).nnz == 0
    assert data.valid.multiply(data.test).nnz == 0


def test_run_family_tunes_on_validation_and_evaluates_on_test(pairs):
    data = prepare_splits(pairs, seed=1)
    result = collaborative.run_family("ease", data, Budget(3, k=5))
    assert result.n_trials == 3 and set(result.params) == {"l2"}
    assert 0.0 < result.metrics["ndcg_at_5"] <= 1.0
    assert result.metrics["fit_seconds"] >= 0.0
    table = comparison_table([result], k=5)
    assert table.loc["ease", "valid_ndcg_at_5"] == result.valid_score


@pytest.mark.slow
def test_trials_are_nested_under_each_familys_run(pairs, tracking_uri, tmp_path):
    data = prepare_splits(pairs, seed=1)
    storage = None  # in memory: a SQLite Optuna store costs seconds to create
    experiment = tracking.ensure_experiment("collab-test", tmp_path / "artifacts")
    with mlflow.start_run(experiment_id=experiment) as parent:
        results = collaborative.compare_families(["popularity", "als"], data, Budget(3, storage))
    runs = mlflow.search_runs([experiment], output_format="list")
    children = {
        r.info.run_id: r
        for r in runs
        if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id
    }
    assert {r.data.tags["workbench.family"] for r in children.values()} == {"popularity", "als"}
    assert {r.info.run_name for r in children.values()} == {"popularity", "als"}
    als = next(r for r in children.values() if r.info.run_name == "als")
    assert als.data.params == {key: str(value) for key, value in results[1].params.items()}
    assert {"factors", "regularization"} <= set(als.data.params)  # named as the estimator's
    assert "valid_ndcg_at_10" in als.data.metrics
    trials = [r for r in runs if r.data.tags.get("mlflow.parentRunId") in children]
    assert len(trials) == 1 + 3
    assert all(r.data.tags["optuna.state"] in {"COMPLETE", "PRUNED"} for r in trials)
    assert select_best(results).name in {"popularity", "als"}


def test_validation_folds_differ_and_all_come_from_train(pairs):
    data = prepare_splits(pairs, seed=1, n_folds=3)
    assert len(data.folds) == 3
    assert data.folds[0][1].nnz and (data.folds[0][1] != data.folds[1][1]).nnz
    for fit, valid in data.folds:
        assert (fit + valid - data.train).nnz == 0
        assert valid.multiply(data.test).nnz == 0


def test_iterative_trials_report_each_chunk_and_can_be_pruned(pairs):
    import optuna

    data = prepare_splits(pairs, seed=1)
    objective = collaborative.RecommenderObjective(FAMILIES["als"], data.folds, k=5, report_every=5)
    study = optuna.create_study(
        direction="maximize", pruner=optuna.pruners.ThresholdPruner(lower=2.0)
    )
    study.optimize(objective, n_trials=2)
    states = {trial.state for trial in study.trials}
    assert states == {optuna.trial.TrialState.PRUNED}
    assert all(trial.intermediate_values.keys() == {5} for trial in study.trials)


def test_a_family_that_would_not_fit_is_skipped_with_the_reason(pairs, caplog):
    data = prepare_splits(pairs, seed=1)
    # 25 items: EASE needs 20 x 25^2 bytes besides its scoring block; allow less than that
    budget = collaborative.cost.estimate("popularity", 60, 25, data.train.nnz).memory_bytes + 1
    with caplog.at_level("WARNING", logger="workbench.workflows.collaborative"):
        kept = collaborative.affordable(["popularity", "ease"], data, memory_budget=budget)
    assert kept == ["popularity"]
    assert "skipping ease" in caplog.text and "items^2" in caplog.text
    assert collaborative.affordable(["popularity", "ease"], data) == ["popularity", "ease"]
