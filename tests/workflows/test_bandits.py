"""Offline tuning: the objective reads logged rounds only, and its estimates track the truth."""

from __future__ import annotations

import mlflow
import numpy as np
import optuna
import pandas as pd
import pytest

from workbench.bandits.environments import BanditSimulator
from workbench.bandits.offline import independent_seeds, split_logs
from workbench.data.contract import validate_table
from workbench.tuning import Budget
from workbench.workflows.bandits import LoggedObjective, held_out_versus_truth, tune_policies

FEATURES = ["x0", "x1"]


def hand_made_logs(n_rounds: int = 4000, seed: int = 0) -> pd.DataFrame:
    """Uniform logs over 4 arms, built without any simulator: in context ``x0`` arm 1 pays
    with probability 0.8, in ``x1`` arm 3 does; every other arm pays 0.2."""
    rng = np.random.default_rng(seed)
    cells = rng.integers(2, size=n_rounds)
    actions = rng.integers(4, size=n_rounds)
    pays = np.where(actions == np.where(cells == 0, 1, 3), 0.8, 0.2)
    logs = pd.DataFrame(
        {
            "round": np.arange(n_rounds),
            "action": actions,
            "position": 0,
            "reward": (rng.random(n_rounds) < pays).astype(float),
            "propensity": 0.25,
        }
    )
    return pd.concat([logs, pd.DataFrame(np.eye(2)[cells], columns=FEATURES)], axis=1)


def two_cell_simulator() -> BanditSimulator:
    means = np.array([[0.2, 0.8, 0.2, 0.2], [0.2, 0.2, 0.2, 0.8]])
    return BanditSimulator(np.eye(2), np.array([0.5, 0.5]), means, list("abcd"), FEATURES)


def test_split_logs_keeps_earlier_rounds_for_tuning():
    logs = hand_made_logs(1000).sample(frac=1.0, random_state=0)
    tuning, held_out = split_logs(logs, 0.6)
    assert (len(tuning), len(held_out)) == (600, 400)
    assert tuning["round"].max() < held_out["round"].min()
    with pytest.raises(ValueError):
        split_logs(logs, 1.0)


def test_objective_tunes_from_a_bandit_logs_frame_alone():
    """No simulator exists here: the logs are a plain contract table, and the study works."""
    logs = validate_table(hand_made_logs(), "bandit_logs")
    objective = LoggedObjective(logs, "linucb", 4, FEATURES, n_bootstrap=50, seed=0)
    assert not any(isinstance(value, BanditSimulator) for value in vars(objective).values())
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=0))
    study.optimize(objective, n_trials=3)
    best = study.best_trial
    assert best.value > 0.6  # a learner finds the arm paying 0.8 in each context; uniform: 0.35
    assert best.user_attrs["logged_value_lower"] <= best.value
    assert best.value <= best.user_attrs["logged_value_upper"]
    assert 0.15 * len(logs) < best.user_attrs["logged_value_n_matched"] < 0.35 * len(logs)


def test_objective_ignores_the_simulators_true_values():
    """Scores depend on the logged rewards only: rewriting the truth after logging changes
    nothing, and logs with other rewards change the score."""
    simulator = two_cell_simulator()
    logs = simulator.log(3000, random_state=1)
    objective = LoggedObjective(logs, "epsilon_greedy", 4, FEATURES, n_bootstrap=20, seed=0)
    before = objective.evaluate({"epsilon": 0.1})
    simulator.true_means[:] = 1.0 - simulator.true_means
    assert objective.evaluate({"epsilon": 0.1}) == before
    flipped = logs.assign(reward=1.0 - logs["reward"])
    other = LoggedObjective(flipped, "epsilon_greedy", 4, FEATURES, n_bootstrap=20, seed=0)
    assert other.evaluate({"epsilon": 0.1})["value"] != before["value"]


@pytest.mark.parametrize("method", ["dr", "snips"])
def test_off_policy_objective_values_the_warm_fitted_policy(method):
    logs = hand_made_logs(6000, seed=2)
    objective = LoggedObjective(logs, "linucb", 4, FEATURES, method=method, n_bootstrap=50)
    estimate = objective.evaluate({"alpha": 0.1, "l2": 1.0})
    assert estimate["lower"] <= estimate["value"] <= estimate["upper"]
    assert estimate["value"] == pytest.approx(0.8, abs=0.05)  # the frozen policy picks the best


def test_trials_are_nested_runs_recording_the_estimate_and_its_interval(tracking_uri):
    logs = hand_made_logs(2000)
    with mlflow.start_run() as parent:
        tune_policies(logs, ["ucb1"], 4, FEATURES, Budget(2, seed=0), n_bootstrap=20)
    runs = mlflow.search_runs(search_all_experiments=True)
    trials = runs[runs["tags.mlflow.parentRunId"] == parent.info.run_id]
    assert len(trials) == 2 and set(trials["tags.mlflow.runName"]) == {"trial 0", "trial 1"}
    assert (trials["metrics.logged_value_lower"] <= trials["metrics.logged_value"]).all()
    assert (trials["metrics.logged_value"] <= trials["metrics.logged_value_upper"]).all()


def test_held_out_replay_estimate_lands_near_the_true_adaptive_value():
    """Pooled replays on held-out logs against 20 online runs of as many rounds: a learner's
    trajectories vary, so both sides average several."""
    simulator = two_cell_simulator()
    tuning, held_out = split_logs(simulator.log(8000, random_state=3))
    study = optuna.create_study(direction="maximize")
    study.enqueue_trial({"alpha": 1.0, "l2": 1.0})  # a sound configuration: never locks in
    study.optimize(LoggedObjective(tuning, "linucb", 4, FEATURES, n_bootstrap=20), n_trials=1)
    table = held_out_versus_truth(
        simulator,
        {"linucb": study},
        held_out,
        n_bootstrap=100,
        seed=4,
        n_truth_runs=20,
        n_replays=4,
    )
    row = table.loc["linucb"]
    assert row["n_matched"] == pytest.approx(len(held_out) / 4, rel=0.2)
    assert 0.5 < row["true_value"] <= 0.8
    assert abs(row["error"]) < 0.05


def test_policy_and_environment_seeds_differ():
    pairs = independent_seeds(0, 20)
    assert all(policy != environment for policy, environment in pairs)
    assert len({policy for policy, _ in pairs}) == 20
