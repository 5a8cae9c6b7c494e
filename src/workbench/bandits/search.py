"""Tuning exploration: Optuna objectives that score a policy's hyperparameters in a simulator.

Each policy family's search space is its ``suggest(trial)`` static method (in
:mod:`workbench.bandits.policies`). A trial runs the policy online in the simulator for
``horizon`` rounds on the given seeds (the same seeds for every trial, so trials face the same
users and coin flips) and scores the mean true value of the arms it chose. Each trial is a
nested MLflow run (:func:`workbench.tuning.optimize`) that also records the observed reward with
its interval and the final regret.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import mlflow
import numpy as np
import optuna

from workbench import tuning
from workbench.bandits.environments import BanditSimulator, SimulationResult
from workbench.bandits.policies import POLICIES, BasePolicy, make_policy

log = logging.getLogger(__name__)

METRIC = "mean_reward"


@dataclass
class SimulatorObjective:
    """Mean true reward of policy family ``policy_name`` with a trial's hyperparameters.

    The score is the true value of the arms chosen (no reward noise); each trial also records
    the reward actually drawn with its 95 % normal interval (what an online test would see) and
    the final regret.

    Parameters
    ----------
    simulator : BanditSimulator
    policy_name : str
        A key of ``POLICIES``.
    horizon : int
        Rounds per run.
    seeds : tuple of int
        One run per seed (environment and policy seeded alike).
    """

    simulator: BanditSimulator
    policy_name: str
    horizon: int
    seeds: tuple[int, ...] = (0, 1)
    fixed: dict = field(default_factory=dict)

    def __call__(self, trial: optuna.Trial) -> float:
        params = {**self.fixed, **POLICIES[self.policy_name].suggest(trial)}
        runs = [self.run(params, seed) for seed in self.seeds]
        value = float(np.mean([run.mean_expected_reward for run in runs]))
        observed = np.concatenate([run.rewards for run in runs])
        half = 1.96 * observed.std(ddof=1) / np.sqrt(len(observed))
        metrics = {
            "observed_reward": float(observed.mean()),
            "observed_reward_lower": float(observed.mean() - half),
            "observed_reward_upper": float(observed.mean() + half),
            "final_regret": float(np.mean([run.regret[-1] for run in runs])),
        }
        if mlflow.active_run() is not None:
            mlflow.log_metrics(metrics)
        for key, item in metrics.items():
            trial.set_user_attr(key, item)
        return value

    def run(self, params: dict, seed: int) -> SimulationResult:
        """One online run of the policy with ``params``."""
        policy = self.policy(params, seed)
        return self.simulator.run(policy, self.horizon, random_state=seed)

    def policy(self, params: dict, seed: int) -> BasePolicy:
        """An unfitted policy of the family with ``params``."""
        return make_policy(self.policy_name, self.simulator.n_actions, random_state=seed, **params)


def tune_policy(
    simulator: BanditSimulator,
    policy_name: str,
    n_trials: int,
    horizon: int,
    storage: str | None,
    study_name: str,
    seed: int = 42,
    seeds: tuple[int, ...] = (0, 1),
) -> tuple[dict, optuna.Study]:
    """Tune one policy family in the simulator (resuming the study if it exists).

    Returns
    -------
    best_params : dict
    study : optuna.Study
    """
    study = tuning.create_study(study_name, storage, seed=seed)
    objective = SimulatorObjective(simulator, policy_name, horizon, seeds)
    tuning.optimize(study, objective, n_trials, METRIC, show_progress_bar=False)
    if not _complete(study):
        raise RuntimeError(f"no {policy_name} trial completed in study {study_name!r}")
    best = study.best_params
    log.info("%s: best %s = %.4f with %s", policy_name, METRIC, study.best_value, best)
    return best, study


def _complete(study: optuna.Study) -> bool:
    return any(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)


def tune_policies(
    simulator: BanditSimulator,
    policy_names: list[str],
    n_trials: int,
    horizon: int,
    storage: str | None,
    study_prefix: str,
    seed: int = 42,
) -> dict[str, dict]:
    """Tune every family in ``policy_names``; the best parameters of each.

    Each study is named ``<study_prefix>-<family>`` and resumes when it exists; trials run on
    the environment seed ``seed`` only, so judge the result on another seed.
    """
    return {
        name: tune_policy(
            simulator,
            name,
            n_trials,
            horizon,
            storage,
            f"{study_prefix}-{name}",
            seed,
            seeds=(seed,),
        )[0]
        for name in policy_names
    }
