"""Optuna plumbing shared by every workflow: a budget, study identity, tracked trials.

- :class:`Budget` bundles what every study needs (``n_trials``, ``storage``, ``seed``, ``k``,
  ``timeout``) plus the *scope* that shapes every objective of a notebook (data set digest,
  split settings), so workflows pass one typed object instead of six arguments.
- A study's name is derived from a hash of every setting that shapes its objective
  (:func:`study_name`): a resumed study never mixes trials scored under other settings.
- :func:`run_study` runs a seeded study in persistent storage up to ``n_trials`` trials *in
  total* (a re-run resumes, never grows past the budget); each trial is an MLflow run nested
  under the active run, named ``trial N``; pruned trials end KILLED, MLflow's status for runs
  stopped early.

Search spaces live beside their models or policies, as ``suggest(trial) -> dict``; objectives
live in :mod:`workbench.workflows`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import mlflow
import optuna
from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient

from workbench import tracking

log = logging.getLogger(__name__)

#: Trials that count against a study's budget (a failed trial is retried on the next run).
COUNTED_STATES = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)


def settings_hash(settings: dict[str, Any], length: int = 12) -> str:
    """A short, stable hash of JSON-serializable ``settings`` (key order does not matter)."""
    payload = json.dumps(settings, sort_keys=True, default=str).encode()
    return hashlib.sha256(payload).hexdigest()[:length]


def study_name(name: str, settings: dict[str, Any]) -> str:
    """``<name>-<hash of settings>``: readable in listings, unique per objective."""
    return f"{name}-{settings_hash({'name': name, **settings})}"


@dataclass(frozen=True)
class Budget:
    """How much to tune, where, and under which settings.

    Attributes
    ----------
    n_trials : int
        Trials per study in total (a resumed study runs only the missing ones).
    storage : str, optional
        Optuna storage URL (``sqlite:///experiments/optuna.db``); in memory when None.
    seed : int
        Seeds the sampler and the estimators.
    k : int
        Cut-off of the ranking objective.
    timeout : float, optional
        Seconds of tuning per study at most.
    scope : dict
        Settings shared by every study of one experiment that shape its objectives (data set
        digest, split, notebook); part of every study's identity.
    fresh : bool
        Start every study over (its stored trials are deleted) instead of resuming it.
    """

    n_trials: int
    storage: str | None = None
    seed: int = 42
    k: int = 10
    timeout: float | None = None
    scope: dict[str, Any] = field(default_factory=dict)
    fresh: bool = False

    def __post_init__(self) -> None:
        if self.n_trials < 0:
            raise ValueError(f"n_trials must be >= 0, got {self.n_trials}")
        if self.k < 1:
            raise ValueError(f"k must be >= 1, got {self.k}")

    def within(self, **scope) -> Budget:
        """The same budget with more settings in its scope."""
        return replace(self, scope={**self.scope, **scope})

    def study_name(self, name: str, **settings) -> str:
        """The identity of study ``name``: a hash of the scope, ``k``, ``seed`` and ``settings``."""
        return study_name(name, {"k": self.k, "seed": self.seed, **self.scope, **settings})


def create_study(
    name: str,
    storage: str | None,
    seed: int = 42,
    direction: str = "maximize",
    pruner: optuna.pruners.BasePruner | None = None,
    fresh: bool = False,
) -> optuna.Study:
    """A seeded TPE study in ``storage``: resumed when it exists, unless ``fresh``."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if fresh and storage is not None and name in optuna.get_all_study_names(storage):
        optuna.delete_study(study_name=name, storage=storage)
        log.info("deleted study %s to start it over", name)
    return optuna.create_study(
        study_name=name,
        storage=storage,
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=pruner or optuna.pruners.NopPruner(),
        direction=direction,
        load_if_exists=True,
    )


def n_counted(study: optuna.Study) -> int:
    """Trials of ``study`` that count against its budget (complete or pruned)."""
    return len(study.get_trials(deepcopy=False, states=COUNTED_STATES))


def has_complete(study: optuna.Study) -> bool:
    """Whether any trial of ``study`` completed."""
    return bool(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)))


def run_study(
    name: str,
    objective: Callable[[optuna.Trial], float],
    budget: Budget,
    metric: str,
    pruner: optuna.pruners.BasePruner | None = None,
    n_trials: int | None = None,
    **settings,
) -> optuna.Study:
    """Run study ``name`` (identity: ``budget.study_name(name, **settings)``) to its budget.

    Parameters
    ----------
    name : str
        What is tuned (``als``, ``content``, ``epsilon_greedy``, ``personas``).
    objective : callable
        ``objective(trial) -> float``, maximized.
    budget : Budget
    metric : str
        Name of the objective's value in each trial's MLflow run (``valid_ndcg_at_10``).
    pruner : optuna pruner, optional
    n_trials : int, optional
        Overrides ``budget.n_trials`` (one trial for a family without hyperparameters).
    **settings
        More settings that shape this study's objective, part of its identity.

    Returns
    -------
    optuna.Study
    """
    identity = budget.study_name(name, **settings)
    study = create_study(identity, budget.storage, budget.seed, pruner=pruner, fresh=budget.fresh)
    wanted = budget.n_trials if n_trials is None else n_trials
    missing = max(0, wanted - n_counted(study))
    if missing:
        tracked = _tracked(objective, metric) if mlflow.active_run() is not None else objective
        study.optimize(tracked, n_trials=missing, timeout=budget.timeout)
    log.info("%s: %d trials in study %s", name, len(study.trials), study.study_name)
    return study


def _tracked(objective: Callable[[optuna.Trial], float], metric: str) -> Callable:
    """``objective`` with each trial inside a nested MLflow run ``trial N``."""

    def run_trial(trial: optuna.Trial) -> float:
        tags = {"optuna.study": trial.study.study_name, "optuna.trial": str(trial.number)}
        with tracking.nested_run(
            f"trial {trial.number}", tags, killed_on=optuna.TrialPruned
        ) as run:
            state, metrics = "FAIL", {}
            try:
                value = objective(trial)
                state, metrics = "COMPLETE", {metric: value}
                return value
            except optuna.TrialPruned:
                state = "PRUNED"
                raise
            finally:
                _log_trial(run.info.run_id, trial.params, metrics, state)

    return run_trial


def _log_trial(run_id: str, params: dict, metrics: dict, state: str) -> None:
    """One batched write of a trial's parameters, value and state (one round trip)."""
    now = int(time.time() * 1000)
    MlflowClient().log_batch(
        run_id,
        metrics=[Metric(key, float(value), now, 0) for key, value in metrics.items()],
        params=[Param(key, str(value)) for key, value in params.items()],
        tags=[RunTag("optuna.state", state)],
    )


def has_search_space(suggest: Callable) -> bool:
    """Whether ``suggest(trial)`` draws any hyperparameter."""
    return bool(suggest(optuna.create_study().ask()))
