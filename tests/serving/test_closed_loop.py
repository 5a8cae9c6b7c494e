"""The loop closes: a simulated audience drives the running service, the decision log is
ingested as ``bandit_logs``, and off-policy estimates of a new policy cover its true value."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from workbench.bandits.environments import BanditSimulator
from workbench.data.sources import decisions
from workbench.serving import create_app
from workbench.serving.simulate import drive
from workbench.workflows.bandits import value_on_decision_log

pytestmark = pytest.mark.slow

N_ROUNDS = 800


def simulator(item_ids: list[str]) -> BanditSimulator:
    return BanditSimulator(
        contexts=np.eye(3),
        weights=np.array([0.5, 0.3, 0.2]),
        true_means=np.array(
            [[0.10, 0.30, 0.05, 0.20], [0.40, 0.05, 0.10, 0.15], [0.05, 0.10, 0.50, 0.20]]
        ),
        action_names=item_ids,
        feature_names=["cell=a", "cell=b", "cell=c"],
    )


def test_ope_of_a_new_policy_on_the_services_own_logs_covers_the_truth(service_factory, tmp_path):
    flags = tmp_path / "flags.yaml"  # explore more widely than the default while learning
    flags.write_text("exploration: {temperature: 3.0, min_propensity: 0.1}\n")
    service = service_factory(flags)
    environment = simulator(list(service.models.recommenders["champion"][1].items.ids[:4]))
    with TestClient(create_app(service, refresh_seconds=None)) as client:

        def post(path: str, payload: dict):
            response = client.post(path, json=payload)
            return response.status_code, response.json()

        played = drive(environment, post, N_ROUNDS, random_state=11)
    ingested = decisions.load(path=service.log.path, actions=environment.action_names)
    logs = ingested["bandit_logs"]
    assert len(logs) == N_ROUNDS and ingested["quarantine"].empty
    np.testing.assert_allclose(logs["propensity"], played["propensity"])
    assert logs["propensity"].min() >= 0.1  # the floor: every arm could have been shown
    # the challenger: mostly each cell's best arm (what the logging policy does not know)
    challenger = np.full((3, 4), 0.1)
    challenger[np.arange(3), environment.true_means.argmax(axis=1)] = 0.7
    estimates, truth, counts = value_on_decision_log(service.log.path, environment, challenger)
    assert truth == environment.policy_value(challenger) and counts["bandit_logs_curated"] == 800
    assert list(estimates.index) == ["ips", "snips", "dr"]
    assert estimates["covers"].all(), (estimates, truth)
    assert (estimates["upper"] - estimates["lower"]).max() < 0.15  # informative, not just wide
