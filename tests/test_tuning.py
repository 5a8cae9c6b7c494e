"""Study identity, budgets that resume instead of growing, tracked trials with short names."""

from __future__ import annotations

import mlflow
import optuna
import pytest

from workbench.tuning import Budget, run_study, study_name


def test_study_identity_changes_with_every_setting_that_shapes_the_objective():
    budget = Budget(5, seed=1, k=10, scope={"dataset": "abc123", "split": "stratified"})
    name = budget.study_name("als", n_folds=2)
    assert name.startswith("als-") and name == budget.study_name("als", n_folds=2)
    assert Budget(9, seed=1, k=10, scope=dict(budget.scope)).study_name("als", n_folds=2) == name
    changed = [
        Budget(5, seed=2, k=10, scope=budget.scope).study_name("als", n_folds=2),
        Budget(5, seed=1, k=20, scope=budget.scope).study_name("als", n_folds=2),
        budget.within(dataset="def456").study_name("als", n_folds=2),
        budget.study_name("als", n_folds=3),
        budget.study_name("bpr", n_folds=2),
    ]
    assert name not in changed and len(set(changed)) == len(changed)
    assert study_name("x", {"a": 1, "b": 2}) == study_name("x", {"b": 2, "a": 1})


def test_budget_refuses_nonsense():
    with pytest.raises(ValueError, match="n_trials"):
        Budget(-1)
    with pytest.raises(ValueError, match="k must"):
        Budget(3, k=0)


def test_a_rerun_resumes_up_to_the_budget_never_beyond(tmp_path):
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"

    def objective(trial):
        return trial.suggest_float("x", 0, 1)

    first = run_study("toy", objective, Budget(4, storage), "value")
    again = run_study("toy", objective, Budget(4, storage), "value")
    assert len(first.trials) == len(again.trials) == 4
    more = run_study("toy", objective, Budget(6, storage), "value")
    assert len(more.trials) == 6 and more.best_value == max(t.value for t in more.trials)


def test_trials_nest_with_short_names_and_pruned_ones_end_killed(tracking_uri):
    def objective(trial):
        x = trial.suggest_int("x", 0, 3)
        if trial.number == 1:
            raise optuna.TrialPruned()
        return float(x)

    with mlflow.start_run() as parent:
        run_study("toy", objective, Budget(3, seed=0), "valid_value")
    runs = mlflow.search_runs(search_all_experiments=True)
    trials = runs[runs["tags.mlflow.parentRunId"] == parent.info.run_id].sort_values("start_time")
    assert trials["tags.mlflow.runName"].tolist() == ["trial 0", "trial 1", "trial 2"]
    assert trials["status"].tolist() == ["FINISHED", "KILLED", "FINISHED"]
    assert trials["metrics.valid_value"].notna().tolist() == [True, False, True]
    assert set(trials["experiment_id"]) == {parent.info.experiment_id}
