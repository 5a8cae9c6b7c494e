"""Valuing policies offline: estimates of a policy's value from logged rounds only.

The protocol a data scientist can run on real data: take uniformly logged rounds (a
``bandit_logs`` table), keep the earlier part for tuning and the later part as held-out
(:func:`split_logs`), tune each family on the tuning part, then value the chosen configuration
once on the held-out part. The objective (:class:`LoggedObjective`) reads nothing but the logs,
so it never sees a simulator's true values; with a simulator, :func:`held_out_versus_truth`
then sets the held-out estimates beside the truth, to show how far an offline estimate can be
trusted.

Two ways to score a candidate (``method``):

- ``"replay"`` (Li et al. 2010, the default): the policy starts from scratch and walks through
  the logs, learning from the rounds where it picks the logged action; on uniform logs its mean
  reward there estimates the online value of the *adaptive* policy over that many rounds, so it
  is the right score for exploration hyperparameters. Interval: bootstrap of the matched rewards.
- an off-policy estimator (``"dr"``, ``"snips"``, any key of :data:`ope.ESTIMATORS`): the policy
  is warm-fitted on the first half of the logs and frozen; its action probabilities over the
  second half's contexts are valued by the estimator (DR with a cross-fitted reward model), with a
  bootstrap interval. It values what the policy *learned*, not how it explores: exploration
  hyperparameters only matter through the frozen distribution, so epsilon drifts toward 0.

Each family's search space is its ``suggest(trial)`` static method (in
:mod:`workbench.bandits.policies`); the Optuna objective and the studies are
:mod:`workbench.workflows.bandits`'s. Everything here is a pure function of the logs (and, for
the comparison with the truth, of a simulator).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from workbench.bandits import ope
from workbench.bandits.environments import (
    BanditSimulator,
    ReplayResult,
    SimulationResult,
    replay,
)
from workbench.bandits.policies import BasePolicy, make_policy

log = logging.getLogger(__name__)

METRIC = "logged_value"


def split_logs(logs: pd.DataFrame, tuning_fraction: float = 0.5):
    """Earlier rounds for tuning, later rounds held out (a split in time, as on a real site).

    Parameters
    ----------
    logs : DataFrame
        A ``bandit_logs`` table; ordered by ``round`` when it has one.
    tuning_fraction : float in (0, 1)

    Returns
    -------
    tuning, held_out : DataFrame
        Both with a fresh 0-based index.
    """
    if not 0.0 < tuning_fraction < 1.0:
        raise ValueError(f"tuning_fraction must be in (0, 1), got {tuning_fraction}")
    if "round" in logs.columns:
        logs = logs.sort_values("round", kind="stable")
    cut = int(round(len(logs) * tuning_fraction))
    return logs.iloc[:cut].reset_index(drop=True), logs.iloc[cut:].reset_index(drop=True)


def logged_contexts(logs: pd.DataFrame, feature_columns: list[str]) -> np.ndarray:
    """Context matrix of shape (n_rounds, n_features); a constant column when there are none."""
    if not feature_columns:
        return np.ones((len(logs), 1))
    missing = [name for name in feature_columns if name not in logs.columns]
    if missing:
        raise KeyError(f"bandit logs lack the context columns {missing}")
    return logs[list(feature_columns)].to_numpy(dtype=float)


def replay_value(
    policy: BasePolicy,
    logs: pd.DataFrame,
    feature_columns: list[str],
    n_bootstrap: int = 200,
    random_state=None,
    n_replays: int = 1,
) -> dict[str, float]:
    """Replay ``policy`` from scratch over uniform ``logs``: value, interval, matched rounds.

    An adaptive policy's trajectory is random (ties, exploration draws, which rounds match), so
    ``n_replays`` replays with different policy seeds are pooled: the value is the mean reward of
    all their matched rounds and the interval a bootstrap of those rewards. The interval covers
    reward noise, not the spread between trajectories.

    Returns
    -------
    dict
        ``value, lower, upper`` and ``n_matched`` (matched rounds per replay, on average).
    """
    contexts = logged_contexts(logs, feature_columns)
    seeds = np.random.default_rng(random_state).integers(2**31 - 1, size=n_replays)
    rewards = []
    for policy_seed in seeds:
        policy.set_params(random_state=int(policy_seed))
        result = replay(policy, logs["action"], logs["reward"], contexts, logs["propensity"])
        rewards.append(result.rewards)
    pooled_rewards = np.concatenate(rewards)
    mean = float(pooled_rewards.mean()) if len(pooled_rewards) else float("nan")
    pooled = ReplayResult(mean, len(pooled_rewards), np.empty(0, dtype=int), pooled_rewards)
    lower, upper = pooled.interval(n_bootstrap=n_bootstrap, random_state=random_state)
    n_matched = pooled.n_matched / n_replays
    return {"value": pooled.value, "lower": lower, "upper": upper, "n_matched": n_matched}


def off_policy_value(
    policy: BasePolicy,
    logs: pd.DataFrame,
    feature_columns: list[str],
    estimator: str = "dr",
    estimated_rewards: np.ndarray | None = None,
    n_bootstrap: int = 200,
    random_state=None,
) -> dict[str, float]:
    """Warm-fit ``policy`` on the first half of ``logs``, value it frozen on the second half.

    Parameters
    ----------
    policy : BasePolicy
    logs : DataFrame
        A ``bandit_logs`` table with the context columns.
    feature_columns : list of str
    estimator : str
        A key of :data:`workbench.bandits.ope.ESTIMATORS`.
    estimated_rewards : ndarray of shape (n_second_half, n_actions), optional
        Reward model predictions on the second half (fitted here when needed and omitted).
    n_bootstrap : int
    random_state : int or None

    Returns
    -------
    dict
        ``value, lower, upper`` and ``n_matched`` (the rounds valued).
    """
    contexts = logged_contexts(logs, feature_columns)
    half = len(logs) // 2
    warm, valued = logs.iloc[:half], logs.iloc[half:]
    policy.fit(contexts[:half], warm["action"], warm["reward"])
    unique, inverse = np.unique(contexts[half:], axis=0, return_inverse=True)
    action_dist = policy.predict_proba(unique)[inverse.ravel()]
    method = ope.ESTIMATORS[estimator]()
    if method.needs_reward_model and estimated_rewards is None:
        estimated_rewards = reward_model(valued, contexts[half:], policy.n_actions, random_state)
    interval = method.estimate_interval(
        valued["reward"],
        valued["action"],
        valued["propensity"],
        action_dist,
        estimated_rewards,
        n_bootstrap=n_bootstrap,
        random_state=random_state,
    )
    values = {"value": interval.value, "lower": interval.lower, "upper": interval.upper}
    return {**values, "n_matched": len(valued)}


def reward_model(logs: pd.DataFrame, contexts: np.ndarray, n_actions: int, random_state=None):
    """Cross-fitted reward predictions for every action in every round of ``logs``."""
    return ope.fit_reward_model(
        contexts,
        logs["action"],
        logs["reward"],
        n_actions,
        random_state=random_state,
        interactions=True,
    )


def logged_value(
    policy: BasePolicy,
    logs: pd.DataFrame,
    feature_columns: list[str],
    method: str = "replay",
    n_bootstrap: int = 200,
    random_state=None,
    estimated_rewards: np.ndarray | None = None,
    n_replays: int = 1,
) -> dict[str, float]:
    """The value of ``policy`` estimated from ``logs`` alone by ``method`` (see module doc)."""
    if method == "replay":
        return replay_value(policy, logs, feature_columns, n_bootstrap, random_state, n_replays)
    if method not in ope.ESTIMATORS:
        raise ValueError(f"unknown method {method!r}: replay or one of {sorted(ope.ESTIMATORS)}")
    return off_policy_value(
        policy, logs, feature_columns, method, estimated_rewards, n_bootstrap, random_state
    )


def held_out_versus_truth(
    simulator: BanditSimulator,
    tuned: dict[str, dict],
    held_out: pd.DataFrame,
    method: str = "replay",
    n_bootstrap: int = 200,
    seed: int = 0,
    n_truth_runs: int = 10,
    n_replays: int = 1,
) -> pd.DataFrame:
    """Each tuned family valued once on held-out logs, beside its true value in the simulator.

    The truth is what the estimate targets: for replay, the mean true value of the arms the
    policy chooses in an online run as long as its matched rounds (averaged over
    ``n_truth_runs`` seeds); for an off-policy estimator, the true value of the policy frozen
    after its warm fit.

    Parameters
    ----------
    tuned : dict of str to dict
        Each family's chosen hyperparameters.

    Returns
    -------
    DataFrame
        Indexed by family: ``estimate, lower, upper, n_matched`` on the held-out logs,
        ``true_value``, ``error`` (estimate - truth) and ``covers`` (the interval contains it).
    """
    rows = {}
    for name, params in tuned.items():
        policy = make_policy(name, simulator.n_actions, random_state=seed, **params)
        estimate = logged_value(
            policy, held_out, simulator.feature_names, method, n_bootstrap, seed, None, n_replays
        )
        if method == "replay":
            horizon = int(round(estimate["n_matched"]))
            truth = true_adaptive_value(simulator, policy, horizon, seed, n_truth_runs)
        else:
            truth = simulator.policy_value(policy.predict_proba(simulator.contexts))
        rows[name] = {
            "estimate": estimate["value"],
            "lower": estimate["lower"],
            "upper": estimate["upper"],
            "n_matched": estimate["n_matched"],
            "true_value": truth,
            "error": estimate["value"] - truth,
            "covers": estimate["lower"] <= truth <= estimate["upper"],
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def true_adaptive_value(
    simulator: BanditSimulator, policy: BasePolicy, horizon: int, seed: int = 0, n_runs: int = 5
) -> float:
    """Expected mean reward of ``policy`` learning online for ``horizon`` rounds: Monte Carlo over
    ``n_runs`` runs, each scored by the true value of its chosen arms."""
    if horizon == 0:
        return float("nan")
    values = []
    for policy_seed, environment_seed in independent_seeds(seed, n_runs):
        policy.set_params(random_state=policy_seed)
        values.append(simulator.run(policy, horizon, random_state=environment_seed))
    return float(np.mean([result.mean_expected_reward for result in values]))


def independent_seeds(seed: int, n_runs: int) -> list[tuple[int, int]]:
    """``(policy seed, environment seed)`` pairs drawn from ``seed``.

    A policy and its environment seeded alike draw the same uniform numbers, so a context-free
    policy's exploration would be coupled to the environment's context draws and could beat the
    best single arm; distinct seeds keep them independent.
    """
    draws = np.random.default_rng(seed).integers(2**31 - 1, size=(n_runs, 2))
    return [(int(a), int(b)) for a, b in draws]


def online_runs(
    simulator: BanditSimulator, tuned: dict[str, dict], horizon: int, seed: int
) -> dict[str, SimulationResult]:
    """Each family with its tuned parameters, and the uniform policy, online for ``horizon``
    rounds in the simulator; all face the same users and coin flips (environment seed ``seed``),
    each policy with its own independent seed."""
    ((policy_seed, environment_seed),) = independent_seeds(seed, 1)
    runs = {}
    for name, params in {**tuned, "uniform": {}}.items():
        policy = make_policy(name, simulator.n_actions, random_state=policy_seed, **params)
        runs[name] = simulator.run(policy, horizon, random_state=environment_seed)
    return runs


def value_shipped_policy(
    policy: BasePolicy,
    simulator: BanditSimulator,
    tuning_logs: pd.DataFrame,
    held_out: pd.DataFrame,
    n_bootstrap: int = 200,
    random_state: int = 0,
) -> tuple[pd.DataFrame, float]:
    """Warm-fit ``policy`` on the tuning logs, value it with every estimator on held-out logs.

    The held-out rounds carry the simulator's ``cell`` of each context, so the frozen
    policy's action probabilities are read per cell; DM and DR use a cross-fitted reward model
    of the held-out rounds.

    Returns
    -------
    estimates : DataFrame
        One row per estimator of :data:`workbench.bandits.ope.ESTIMATORS` (``estimate_all``),
        with the error against the truth.
    true_value : float
        The frozen policy's value in the simulator.
    """
    features = simulator.feature_names
    policy.fit(tuning_logs[features], tuning_logs["action"], tuning_logs["reward"])
    probabilities = policy.predict_proba(simulator.contexts)
    true_value = simulator.policy_value(probabilities)
    contexts = held_out[features].to_numpy()
    estimated = reward_model(held_out, contexts, simulator.n_actions, random_state)
    estimates = ope.estimate_all(
        held_out["reward"],
        held_out["action"],
        held_out["propensity"],
        probabilities[held_out["cell"].to_numpy()],
        estimated,
        n_bootstrap=n_bootstrap,
        random_state=random_state,
        truth=true_value,
    )
    return estimates, true_value


def logged_cells(logs: pd.DataFrame, simulator: BanditSimulator) -> np.ndarray:
    """The simulator's cell of each logged round, from ``context_cell`` (a name of
    ``simulator.feature_names`` without its ``cell=`` prefix), shape (n_rounds,).

    Raises
    ------
    KeyError
        When the logs have no ``context_cell``.
    ValueError
        Naming the cells the simulator does not have.
    """
    if "context_cell" not in logs:
        raise KeyError("bandit logs lack context_cell (the simulator's cell of each round)")
    names = pd.Index([name.removeprefix("cell=") for name in simulator.feature_names])
    index = names.get_indexer(logs["context_cell"].astype(str))
    if (index < 0).any():
        unknown = sorted(set(logs["context_cell"].astype(str)[index < 0]))
        raise ValueError(f"context_cell: unknown cells in the log: {unknown}")
    return index


def cell_contexts(logs: pd.DataFrame, simulator: BanditSimulator) -> np.ndarray:
    """Contexts of logged rounds (:func:`logged_cells`), shape (n_rounds, n_features)."""
    return simulator.contexts[logged_cells(logs, simulator)]


CLOSED_LOOP_ESTIMATORS = ("ips", "snips", "dr")


def value_on_logged_decisions(
    logs: pd.DataFrame,
    simulator: BanditSimulator,
    challenger: np.ndarray,
    n_bootstrap: int = 200,
    random_state: int = 0,
    estimators: tuple[str, ...] = CLOSED_LOOP_ESTIMATORS,
) -> tuple[pd.DataFrame, float]:
    """A new policy valued on rounds another policy logged (a served policy's own
    propensities, not uniform ones), beside its true value in the simulator.

    Parameters
    ----------
    logs : DataFrame of shape (n_rounds, ...)
        ``bandit_logs`` with ``action``, ``reward``, ``propensity`` (the logging policy's
        probability of the logged action) and ``context_cell``: the ``decisions`` source's
        table of a log the simulator drove (:func:`workbench.serving.simulate.drive`).
    simulator : BanditSimulator
        The environment of the logged rounds: its cells map rounds to contexts, its true
        rates give the truth.
    challenger : ndarray of shape (n_cells, n_actions)
        The new policy's action probabilities in each cell (rows sum to one).
    n_bootstrap, random_state : int
        The intervals' resamples and seed (also of the cross-fitted reward model of DR).
    estimators : tuple of str
        Keys of :data:`workbench.bandits.ope.ESTIMATORS`.

    Returns
    -------
    estimates : DataFrame
        One row per estimator: ``value, lower, upper, std, relative_error, covers``.
    true_value : float
        ``simulator.policy_value(challenger)``.
    """
    challenger = np.asarray(challenger, dtype=float)
    if challenger.shape != simulator.true_means.shape:
        raise ValueError(
            f"challenger has shape {challenger.shape}; the simulator's cells x actions are "
            f"{simulator.true_means.shape}"
        )
    cells = logged_cells(logs, simulator)
    contexts = simulator.contexts[cells]
    true_value = simulator.policy_value(challenger)
    estimated = reward_model(logs, contexts, simulator.n_actions, random_state)
    estimates = ope.estimate_all(
        logs["reward"], logs["action"], logs["propensity"], challenger[cells], estimated,
        n_bootstrap=n_bootstrap, random_state=random_state, truth=true_value,
    )  # fmt: skip
    return estimates.loc[list(estimators)], true_value


def epsilon_greedy_on_truth(simulator: BanditSimulator, epsilon: float) -> np.ndarray:
    """The closed loop's challenger: each cell's truly best arm with probability
    ``1 - epsilon``, every arm with ``epsilon / n_actions``; shape (n_cells, n_actions).

    A fixed policy to value offline, not one that could be learned from the logs: what matters
    is that the logging policy (the service) does not play it.
    """
    if not 0.0 <= epsilon <= 1.0:
        raise ValueError(f"epsilon must be in [0, 1], got {epsilon}")
    best = np.eye(simulator.n_actions)[simulator.true_means.argmax(axis=1)]
    return (1.0 - epsilon) * best + epsilon / simulator.n_actions


def simulation_record_path(decision_log: str | Path) -> Path:
    """Where a simulation's record sits: beside its decision log, ``<log>.simulation.json``."""
    return Path(decision_log).with_suffix(".simulation.json")


def write_simulation_record(
    decision_log: str | Path,
    simulator: BanditSimulator,
    challenger: np.ndarray,
    event_ids: list[str],
    **about,
) -> Path:
    """Write what the simulator knows beside the decision log it played into.

    The record holds the simulator (cells, weights, true rates, arms), the challenger's action
    probabilities (n_cells, n_actions) and its true value, the played rounds' ``event_ids``
    and ``about`` (how the rounds were played: rounds, seed, URL...). Returns its path.
    """
    path = simulation_record_path(decision_log)
    record = {
        **about,
        "decision_log": str(decision_log),
        "simulator": {
            "contexts": simulator.contexts.tolist(),
            "weights": simulator.weights.tolist(),
            "true_means": simulator.true_means.tolist(),
            "action_names": list(simulator.action_names),
            "feature_names": list(simulator.feature_names),
        },
        "challenger": np.asarray(challenger, dtype=float).tolist(),
        "true_value": simulator.policy_value(np.asarray(challenger, dtype=float)),
        "event_ids": list(event_ids),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1) + "\n")
    return path


def read_simulation_record(decision_log: str | Path) -> tuple[BanditSimulator, np.ndarray, dict]:
    """The simulator, the challenger (n_cells, n_actions) and the whole record written by
    :func:`write_simulation_record` beside ``decision_log``.

    Raises
    ------
    FileNotFoundError
        Naming the record expected (``workbench simulate`` writes it).
    """
    path = simulation_record_path(decision_log)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: no simulation record beside the decision log {decision_log} "
            "(`workbench simulate` writes it)"
        )
    record = json.loads(path.read_text())
    fields = record["simulator"]
    simulator = BanditSimulator(
        contexts=np.asarray(fields["contexts"], dtype=float),
        weights=np.asarray(fields["weights"], dtype=float),
        true_means=np.asarray(fields["true_means"], dtype=float),
        action_names=list(fields["action_names"]),
        feature_names=list(fields["feature_names"]),
    )
    return simulator, np.asarray(record["challenger"], dtype=float), record
