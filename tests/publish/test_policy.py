"""The policy pyfunc: logged, registered, loaded back, valid action probabilities."""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
import pytest

from workbench.bandits.policies import make_policy
from workbench.publish import PolicyModel, publish

FEATURES = ["cell=a", "cell=b"]
ACTIONS = ["x", "y", "z"]


def trained(name: str):
    contexts = np.tile(np.eye(2), (30, 1))
    actions = np.tile([0, 1, 2], 20)
    rewards = (actions == contexts.argmax(axis=1)).astype(float)
    return make_policy(name, 3, random_state=0).fit(contexts, actions, rewards)


@pytest.mark.slow
def test_registered_policy_loads_back_and_returns_distributions(tracking_uri):
    policy = trained("linucb")
    model = PolicyModel(policy, FEATURES, ACTIONS)
    with mlflow.start_run():
        published = publish(model, "test-policy", model.example(), "policy_value", 0.5)
    assert published.version == "1" and published.reproduced
    model = mlflow.pyfunc.load_model("models:/test-policy/1")
    frame = pd.DataFrame(np.eye(2), columns=FEATURES).assign(extra=1.0)
    probabilities = model.predict(frame)
    assert list(probabilities.columns) == ACTIONS
    values = probabilities.to_numpy()
    assert (values >= 0).all()
    np.testing.assert_allclose(values.sum(axis=1), 1.0)
    np.testing.assert_allclose(values, 0.97 * policy.predict_proba(np.eye(2)) + 0.01)


@pytest.mark.parametrize("name", ["bernoulli_ts", "epsilon_greedy", "lin_ts"])
def test_wrapper_predicts_one_distribution_per_row(name):
    model = PolicyModel(trained(name), FEATURES, ACTIONS)
    out = model.predict(None, pd.DataFrame(np.eye(2)[[0, 1, 1]], columns=FEATURES))
    assert out.shape == (3, 3)
    np.testing.assert_allclose(out.sum(axis=1), 1.0)


def test_contextual_wrapper_names_missing_columns():
    model = PolicyModel(trained("linucb"), FEATURES, ACTIONS)
    with pytest.raises(ValueError, match="cell=b"):
        model.predict(None, pd.DataFrame({"cell=a": [1.0]}))


def test_a_greedy_policy_is_served_stochastic_above_the_floor():
    policy = trained("linucb")
    assert set(np.unique(policy.predict_proba(np.eye(2)))) == {0.0, 1.0}  # greedy on its own
    out = PolicyModel(policy, FEATURES, ACTIONS, min_propensity=0.05).predict(
        None, pd.DataFrame(np.eye(2), columns=FEATURES)
    )
    np.testing.assert_allclose(out.to_numpy(), 0.85 * policy.predict_proba(np.eye(2)) + 0.05)
    with pytest.raises(ValueError, match="min_propensity"):
        PolicyModel(policy, FEATURES, ACTIONS, min_propensity=0.4)


def test_context_by_cell_name_or_user_id():
    model = PolicyModel(trained("linucb"), FEATURES, ACTIONS, user_cells={"u1": "b"})
    by_columns = model.predict(None, pd.DataFrame(np.eye(2)[[1]], columns=FEATURES))
    by_cell = model.predict(None, pd.DataFrame({"cell": ["b"]}))
    by_user = model.predict(None, pd.DataFrame({"user_id": ["u1", "stranger"]}))
    pd.testing.assert_frame_equal(by_cell, by_columns)
    pd.testing.assert_frame_equal(by_user.head(1), by_columns)
    np.testing.assert_allclose(by_user.iloc[1], 1 / 3)  # unknown user: uniform
    with pytest.raises(ValueError, match="unknown cell 'c'"):
        model.predict(None, pd.DataFrame({"cell": ["c"]}))
