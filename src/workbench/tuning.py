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
- With ``Budget.n_workers > 1`` a study's missing trials are shared among that many processes
  (this one and ``n_workers - 1`` forked ones) against its RDB storage: PostgreSQL under the
  tracking server, else SQLite, whose writers wait for the lock (:func:`rdb_storage`) instead
  of failing. Each worker runs an exact share (no trial lost or run twice), samples with TPE
  seeded ``seed + worker`` with the constant liar (so workers do not propose the same point),
  and nests its trial runs under the same MLflow run.

Search spaces live beside their models or policies, as ``suggest(trial) -> dict``; objectives
live in :mod:`workbench.workflows`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
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
    n_workers : int
        Processes that run each study's trials (1: in this process only).
    """

    n_trials: int
    storage: str | None = None
    seed: int = 42
    k: int = 10
    timeout: float | None = None
    scope: dict[str, Any] = field(default_factory=dict)
    fresh: bool = False
    n_workers: int = 1

    def __post_init__(self) -> None:
        if self.n_trials < 0:
            raise ValueError(f"n_trials must be >= 0, got {self.n_trials}")
        if self.n_workers < 1:
            raise ValueError(f"n_workers must be >= 1, got {self.n_workers}")
        if self.n_workers > 1 and self.storage is None:
            raise ValueError("n_workers > 1 needs an RDB storage (storage=None is in memory)")
        if self.k < 1:
            raise ValueError(f"k must be >= 1, got {self.k}")

    def within(self, **scope) -> Budget:
        """The same budget with more settings in its scope."""
        return replace(self, scope={**self.scope, **scope})

    def study_name(self, name: str, **settings) -> str:
        """The identity of study ``name``: a hash of the scope, ``k``, ``seed`` and ``settings``."""
        return study_name(name, {"k": self.k, "seed": self.seed, **self.scope, **settings})


#: Seconds a SQLite writer waits for another process's lock before failing.
SQLITE_LOCK_SECONDS = 120


def rdb_storage(
    url: str | optuna.storages.BaseStorage | None,
) -> optuna.storages.BaseStorage | None:
    """Optuna storage at ``url``; SQLite writers wait for the lock (several processes share it).

    Parameters
    ----------
    url : str or optuna storage, optional
        ``sqlite:///...`` or ``postgresql+psycopg://...``; a storage object is used as it is;
        None keeps trials in memory.
    """
    if url is None or isinstance(url, optuna.storages.BaseStorage):
        return url
    if url.startswith("sqlite"):
        engine = {"connect_args": {"timeout": SQLITE_LOCK_SECONDS}}
    else:
        engine = {"pool_pre_ping": True}
    return optuna.storages.RDBStorage(url, engine_kwargs=engine)


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
    storage = rdb_storage(storage)
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
    tracked = _tracked(objective, metric) if mlflow.active_run() is not None else objective
    if missing and budget.n_workers > 1 and missing > 1:
        _optimize_in_workers(study, tracked, missing, budget, pruner)
    elif missing:
        study.optimize(tracked, n_trials=missing, timeout=budget.timeout)
    log.info("%s: %d trials in study %s", name, len(study.trials), study.study_name)
    return study


def shares(n_trials: int, n_workers: int) -> list[int]:
    """``n_trials`` split into ``n_workers`` shares that differ by one at most (sum exact)."""
    base, extra = divmod(n_trials, n_workers)
    return [base + (worker < extra) for worker in range(n_workers)]


def _optimize_in_workers(study, tracked, n_trials: int, budget: Budget, pruner) -> None:
    """``n_trials`` more trials of ``study`` in ``budget.n_workers`` processes (this one too).

    Workers are forked, so the objective (its data loaded once) needs no pickling; each loads
    the study from its storage with its own seeded sampler and engine.
    """
    context = multiprocessing.get_context("fork")
    parent = mlflow.active_run()
    parent_id = parent.info.run_id if parent is not None else None
    jobs = list(enumerate(shares(n_trials, budget.n_workers)))
    processes = [
        context.Process(
            target=_worker,
            args=(study.study_name, tracked, share, budget, worker, pruner, parent_id),
            name=f"optuna-worker-{worker}",
        )
        for worker, share in jobs[1:]
        if share
    ]
    for process in processes:
        process.start()
    try:
        _worker_study(study.study_name, budget, 0, pruner).optimize(
            tracked, n_trials=jobs[0][1], timeout=budget.timeout
        )
    finally:
        for process in processes:
            process.join()
    failed = [process.name for process in processes if process.exitcode != 0]
    if failed:
        raise RuntimeError(f"{study.study_name}: {', '.join(failed)} failed (see the log above)")


def _worker_study(name: str, budget: Budget, worker: int, pruner) -> optuna.Study:
    sampler = optuna.samplers.TPESampler(seed=budget.seed + worker, constant_liar=True)
    return optuna.load_study(
        study_name=name,
        storage=rdb_storage(budget.storage),
        sampler=sampler,
        pruner=pruner or optuna.pruners.NopPruner(),
    )


def _worker(name, tracked, n_trials, budget, worker, pruner, parent_id) -> None:
    """A forked worker: fresh database connections, the parent's run active, its share run."""
    _forget_inherited_connections()
    if parent_id is not None and mlflow.active_run() is None:
        mlflow.start_run(run_id=parent_id)  # never ended here: the worker exits with os._exit
    _worker_study(name, budget, worker, pruner).optimize(
        tracked, n_trials=n_trials, timeout=budget.timeout
    )


def _forget_inherited_connections() -> None:
    """Drop (without closing) the MLflow store's pooled connections inherited from the parent,
    so the worker opens its own (SQLAlchemy's rule for engines used across ``fork``)."""
    from mlflow.tracking._tracking_service.utils import _get_store

    engine = getattr(_get_store(), "engine", None)
    if engine is not None:
        engine.dispose(close=False)


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
