"""The closed loop end to end: ``workbench simulate`` drives a running ``workbench serve``, then
``60_bandits`` with ``decision_log`` values the challenger on the service's own propensities."""

from __future__ import annotations

import json
import shutil

import mlflow
import pytest
from conftest import Server  # tests/serving/conftest.py

from workbench.cli import main

pytestmark = [pytest.mark.slow, pytest.mark.notebooks]

N_ROUNDS = 400


@pytest.fixture
def served(project, tmp_path_factory):
    folder = tmp_path_factory.mktemp("closed-loop")
    flags = folder / "flags.yaml"  # explore widely: every arm's propensity at least 0.1
    flags.write_text("exploration: {temperature: 3.0, min_propensity: 0.1}\n")
    server = Server(project, folder / "decisions.jsonl", flags).wait()
    yield server, folder / "decisions.jsonl"
    server.stop()
    mlflow.set_tracking_uri(project.tracking_uri)  # run_notebook points this process elsewhere


def test_simulate_then_60_bandits_values_the_challenger_beside_its_truth(
    project, served, run_notebook, tmp_path
):
    server, log = served  # the notebook's project (run_notebook's) holds the served data set
    shutil.copytree(project.curated, tmp_path / "data" / "curated" / "synthetic")
    args = ["simulate", "--dataset", "synthetic", "--rounds", str(N_ROUNDS), "--url", server.url]
    assert main([*args, "--log", str(log), "--seed", "5"]) == 0
    record = json.loads(log.with_suffix(".simulation.json").read_text())
    assert len(record["event_ids"]) == N_ROUNDS and 0 < record["true_value"] < 1

    metrics = run_notebook(
        "60_bandits", policies=["epsilon_greedy"], n_bootstrap=100, decision_log=str(log)
    )
    loop = {key.removeprefix("closed_loop."): v for key, v in metrics.items() if "loop." in key}
    assert loop["true_value"] == pytest.approx(record["true_value"])
    assert loop["recorded_true_value"] == record["true_value"]
    assert loop["simulated_rounds"] == loop["rounds"] == N_ROUNDS  # every played round valued
    parts = ("curated", "quarantined", "duplicates")  # every logged decision accounted for
    assert loop["bandit_logs_in"] == sum(loop[f"bandit_logs_{part}"] for part in parts)
    assert loop["dr.lower"] <= record["true_value"] <= loop["dr.upper"] and loop["dr.covers"] == 1
    widths = [loop[f"{name}.upper"] - loop[f"{name}.lower"] for name in ("ips", "snips", "dr")]
    assert max(widths) < 0.25  # informative over 400 rounds, not just wide
