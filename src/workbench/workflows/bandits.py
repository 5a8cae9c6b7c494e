"""The bandit experiment: tune each policy family offline on logged rounds, then value it.

Shared by ``notebooks/60_bandits.ipynb`` and ``benchmarks/ope.py``. The estimates themselves
are pure functions of :mod:`workbench.bandits.offline`; this module adds the Optuna objective
(:class:`LoggedObjective`) and the studies (:func:`tune_policies`), whose trials are nested
MLflow runs recording the estimate, its interval and, for replay, the matched rounds.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import mlflow
import numpy as np
import optuna
import pandas as pd

from workbench import tuning
from workbench.bandits import offline, ope
from workbench.bandits.offline import logged_contexts, logged_value, reward_model
from workbench.bandits.policies import POLICIES, make_policy

log = logging.getLogger(__name__)

METRIC = "logged_value"


@dataclass
class LoggedObjective:
    """The estimated value of family ``policy_name`` with a trial's hyperparameters, from logs.

    Holds only the logged rounds: no simulator, no true value. Every trial replays (or
    warm-fits) a fresh policy seeded with ``seed``, so trials differ by their parameters only.

    Parameters
    ----------
    logs : DataFrame
        ``bandit_logs`` rounds to tune on (uniform logging for replay).
    policy_name : str
        A key of ``POLICIES``.
    n_actions : int
    feature_columns : list of str
        Context columns of ``logs``.
    method : str
        ``"replay"`` or a key of :data:`workbench.bandits.ope.ESTIMATORS`.
    n_bootstrap : int
        Resamples of each trial's interval.
    seed : int
        Seeds the policy and the bootstrap.
    n_replays : int
        Replays per trial with different policy seeds (``method="replay"``), pooled.
    fixed : dict
        Settings that are not tuned.
    """

    logs: pd.DataFrame
    policy_name: str
    n_actions: int
    feature_columns: list[str]
    method: str = "replay"
    n_bootstrap: int = 200
    seed: int = 0
    n_replays: int = 1
    fixed: dict = field(default_factory=dict)
    estimated_rewards_: np.ndarray | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.method != "replay" and ope.ESTIMATORS[self.method].needs_reward_model:
            valued = self.logs.iloc[len(self.logs) // 2 :]
            contexts = logged_contexts(valued, self.feature_columns)
            self.estimated_rewards_ = reward_model(valued, contexts, self.n_actions, self.seed)

    def __call__(self, trial: optuna.Trial) -> float:
        params = {**self.fixed, **POLICIES[self.policy_name].suggest(trial)}
        estimate = self.evaluate(params)
        metrics = {
            f"{METRIC}_{key}": float(item) for key, item in estimate.items() if key != "value"
        }
        if mlflow.active_run() is not None:
            mlflow.log_metrics(metrics)
        for key, item in metrics.items():
            trial.set_user_attr(key, item)
        if not np.isfinite(estimate["value"]):
            raise optuna.TrialPruned("no logged round matched the policy's choices")
        return float(estimate["value"])

    def evaluate(self, params: dict) -> dict[str, float]:
        """Estimate, interval and rounds used, for the family with ``params``."""
        policy = make_policy(self.policy_name, self.n_actions, random_state=self.seed, **params)
        return logged_value(
            policy,
            self.logs,
            self.feature_columns,
            self.method,
            self.n_bootstrap,
            self.seed,
            self.estimated_rewards_,
            self.n_replays,
        )


def tune_policies(
    logs: pd.DataFrame,
    policy_names: list[str],
    n_actions: int,
    feature_columns: list[str],
    budget: tuning.Budget,
    method: str = "replay",
    n_bootstrap: int = 200,
    n_replays: int = 1,
) -> dict[str, optuna.Study]:
    """Tune every family in ``policy_names`` on ``logs``; one study each (resumed if it exists).

    Returns
    -------
    dict of str to optuna.Study
        Each best trial carries the estimate's interval in ``user_attrs``.
    """
    studies = {}
    for name in policy_names:
        objective = LoggedObjective(
            logs, name, n_actions, feature_columns, method, n_bootstrap, budget.seed, n_replays
        )
        identity = {"method": method, "n_rounds": len(logs), "n_replays": n_replays}
        study = tuning.run_study(name, objective, budget, METRIC, **identity)
        if not tuning.has_complete(study):
            raise RuntimeError(f"no {name} trial completed in study {study.study_name!r}")
        log.info("%s: best %s = %.4f with %s", name, method, study.best_value, study.best_params)
        studies[name] = study
    return studies


def held_out_versus_truth(
    simulator, studies: dict[str, optuna.Study], held_out: pd.DataFrame, **options
) -> pd.DataFrame:
    """:func:`workbench.bandits.offline.held_out_versus_truth` of the studies' best parameters,
    with ``tuning_value`` (the best trial's score, optimistic by selection) beside them."""
    tuned = {name: study.best_params for name, study in studies.items()}
    table = offline.held_out_versus_truth(simulator, tuned, held_out, **options)
    best = pd.Series({name: study.best_value for name, study in studies.items()})
    return table.assign(tuning_value=best).loc[:, ["tuning_value", *table.columns]]


def report_metrics(
    online: pd.DataFrame, held_out: pd.DataFrame, estimates: pd.DataFrame
) -> dict[str, float]:
    """Flat metrics of an experiment: per policy ``<name>.mean_reward|regret|late_to_early``
    online and ``<name>.held_out_estimate|true_value|error``, per estimator
    ``ope.<name>.relative_error``, and the held-out coverage and mean absolute error."""
    metrics = {
        f"{name}.{column}": float(online.loc[name, column])
        for name in online.index
        for column in ["mean_reward", "regret", "late_to_early"]
    }
    metrics.update(
        {
            f"{name}.held_out_{column}": float(held_out.loc[name, column])
            for name in held_out.index
            for column in ["estimate", "true_value", "error"]
        }
    )
    metrics.update(
        {
            f"ope.{name}.relative_error": float(row["relative_error"])
            for name, row in estimates.iterrows()
        }
    )
    metrics["held_out_coverage"] = float(held_out["covers"].mean())
    metrics["held_out_mean_abs_error"] = float(held_out["error"].abs().mean())
    return metrics
