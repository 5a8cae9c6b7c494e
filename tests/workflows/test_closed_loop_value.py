"""The closed loop's valuation: a served decision log (the service's own, non-uniform
propensities) ingested by the ``decisions`` source, a new policy valued by IPS, SNIPS and DR
beside the simulator's truth."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from workbench.bandits.environments import BanditSimulator
from workbench.bandits.offline import epsilon_greedy_on_truth, write_simulation_record
from workbench.parameters import problems
from workbench.workflows.bandits import closed_loop, value_on_decision_log

SIMULATOR = BanditSimulator(
    contexts=np.eye(3),
    weights=np.array([0.5, 0.3, 0.2]),
    true_means=np.array(
        [[0.10, 0.30, 0.05, 0.20], [0.40, 0.05, 0.10, 0.15], [0.05, 0.10, 0.50, 0.20]]
    ),
    action_names=["item-a", "item-b", "item-c", "item-d"],
    feature_names=["cell=a", "cell=b", "cell=c"],
)
LOGGING = np.array([[0.55, 0.15, 0.15, 0.15], [0.1, 0.6, 0.1, 0.2], [0.4, 0.4, 0.1, 0.1]])
CHALLENGER = np.full((3, 4), 0.1) + 0.6 * np.eye(3, 4)[[1, 0, 2]]  # each cell's best arm


def write_served_log(path, simulator, n_rounds: int, seed: int = 0):
    """What ``workbench serve`` writes when the simulator drives it: a decision per round (the
    pseudonym, the cell as context, the shown item and its propensity) and its reward."""
    rounds = simulator.log(n_rounds, LOGGING, random_state=seed)
    cells = [name.removeprefix("cell=") for name in simulator.feature_names]
    with open(path, "w") as handle:
        for row in rounds.itertuples():
            event = f"e{row.round}"
            decision = {
                "kind": "decision", "event_id": event, "timestamp": "2026-03-01T10:00:00+00:00",
                "user_id": f"{row.round:020x}", "context": {"cell": cells[row.cell]},
                "shown": simulator.action_names[row.action], "position": 0,
                "propensity": row.propensity, "variant": "champion",
                "model_versions": {"served": "1"},
            }  # fmt: skip
            handle.write(json.dumps(decision) + "\n")
            handle.write(json.dumps({"kind": "reward", "event_id": event, "reward": row.reward}))
            handle.write("\n")
    return path


def test_estimates_on_served_propensities_cover_the_truth_and_ignore_it(tmp_path):
    log = write_served_log(tmp_path / "decisions.jsonl", SIMULATOR, 2000)
    estimates, truth, counts = value_on_decision_log(log, SIMULATOR, CHALLENGER, 100, 0)
    assert truth == pytest.approx(SIMULATOR.policy_value(CHALLENGER))
    assert list(estimates.index) == ["ips", "snips", "dr"] and estimates["covers"].all()
    assert (estimates["upper"] - estimates["lower"]).max() < 0.15  # informative, not just wide
    assert counts["bandit_logs_curated"] == 2000 and counts["bandit_logs_quarantined"] == 0
    # the truth rewritten after logging changes the truth only, never an estimate
    other = replace(SIMULATOR, true_means=SIMULATOR.true_means[::-1].copy())
    again, other_truth, _ = value_on_decision_log(log, other, CHALLENGER, 100, 0)
    assert other_truth != truth
    np.testing.assert_array_equal(again["value"], estimates["value"])


def test_a_challenger_of_another_shape_or_unknown_cells_are_errors(tmp_path):
    log = write_served_log(tmp_path / "decisions.jsonl", SIMULATOR, 50)
    with pytest.raises(ValueError, match="shape"):
        value_on_decision_log(log, SIMULATOR, CHALLENGER[:, :3])
    renamed = replace(SIMULATOR, feature_names=["cell=x", "cell=y", "cell=z"])
    with pytest.raises(ValueError, match="context_cell: unknown cells"):
        value_on_decision_log(log, renamed, CHALLENGER)


def test_closed_loop_values_only_the_simulated_rounds_and_reconciles(tmp_path):
    log = write_served_log(tmp_path / "decisions.jsonl", SIMULATOR, 1500)
    simulated = [f"e{t}" for t in range(1500)]
    with open(log, "a") as handle:  # real traffic (no cell) and a decision the source refuses
        for event, propensity in (("site-1", 0.5), ("site-2", 0.0)):
            decision = {
                "kind": "decision", "event_id": event, "timestamp": "2026-03-01T11:00:00+00:00",
                "user_id": "f" * 20, "context": {"page": "home"}, "shown": "item-a",
                "position": 0, "propensity": propensity, "variant": "champion",
            }  # fmt: skip
            handle.write(json.dumps(decision) + "\n")
    with pytest.raises(FileNotFoundError, match="workbench simulate"):
        closed_loop(log)
    challenger = epsilon_greedy_on_truth(SIMULATOR, 0.3)
    np.testing.assert_allclose(challenger.sum(axis=1), 1.0)
    write_simulation_record(log, SIMULATOR, challenger, simulated, rounds=1500)
    assert problems({"decision_log": str(log)}) == []
    loop = closed_loop(log, n_bootstrap=100)
    metrics = loop.metrics
    assert metrics["closed_loop.true_value"] == SIMULATOR.policy_value(challenger)
    assert metrics["closed_loop.rounds"] == metrics["closed_loop.simulated_rounds"] == 1500
    assert metrics["closed_loop.bandit_logs_in"] == 1502
    assert metrics["closed_loop.bandit_logs_quarantined"] == 1 == len(loop.quarantine)
    assert metrics["closed_loop.dr.covers"] == 1.0
    assert list(loop.table().index) == ["ips", "snips", "dr"]


def test_bad_challengers_and_missing_logs_are_named():
    with pytest.raises(ValueError, match="epsilon must be in"):
        epsilon_greedy_on_truth(SIMULATOR, 1.5)
    assert "no decision log" in problems({"decision_log": "nowhere/decisions.jsonl"})[0]
    with pytest.raises(FileNotFoundError, match="decision_log"):
        closed_loop("nowhere/decisions.jsonl")
