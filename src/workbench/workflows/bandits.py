"""The bandit experiment: tune each policy family offline on logged rounds, then value it.

Shared by ``notebooks/60_bandits.ipynb`` and ``benchmarks/ope.py``. The estimates themselves
are pure functions of :mod:`workbench.bandits.offline`; this module adds the Optuna objective
(:class:`LoggedObjective`) and the studies (:func:`tune_policies`), whose trials are nested
MLflow runs recording the estimate, its interval and, for replay, the matched rounds; and the
closed loop's valuation of a new policy on a served decision log (:func:`value_on_decision_log`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import mlflow
import numpy as np
import optuna
import pandas as pd

from workbench import tuning
from workbench.bandits import offline, ope
from workbench.bandits.offline import logged_contexts, logged_value, reward_model
from workbench.bandits.policies import POLICIES, make_policy
from workbench.data.curated import CuratedDataset
from workbench.data.sources import decisions

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


def ingest_decision_log(data: CuratedDataset, path: Path, actions: list[str]) -> pd.Series:
    """Curate a decision log of ``workbench serve`` into the data set's ``bandit_logs`` table.

    The ``decisions`` source applies the usual quality and privacy rules; the logged user ids
    are the data set's pseudonyms already (the service pseudonymized them with the same key),
    so the rounds join with the curated ``users``. The table is a derived one: an erasure
    removes a forgotten user's rounds, and a new ``10_ingest`` run replaces the data set.

    Parameters
    ----------
    data : CuratedDataset
    path : Path
        The decision log (JSON lines).
    actions : list of str
        The action catalogue (item ids).

    Returns
    -------
    Series
        The ingestion's reconciled counts, with ``bandit_logs_users_joined``: the rounds whose
        user is in the curated ``users`` table.
    """
    ingested = decisions.load(path=path, actions=list(actions))
    logs = ingested["bandit_logs"]
    data.write(decisions.TABLE, logs)
    joined = int(logs["user_id"].isin(data.read("users")["user_id"]).sum())
    log.info("%s: %d rounds into %s (%d of a curated user)", path, len(logs), data.folder, joined)
    return pd.concat([ingested["counts"], pd.Series({"bandit_logs_users_joined": joined})])


def value_on_decision_log(
    path: Path,
    simulator,
    challenger: np.ndarray,
    n_bootstrap: int = 200,
    random_state: int = 0,
) -> tuple[pd.DataFrame, float, pd.Series]:
    """The closed loop's last step: a decision log of ``workbench serve`` ingested by the
    ``decisions`` source (the same quality and privacy rules as every source), then a new
    policy valued by IPS, SNIPS and DR on the service's own logged propensities, beside its
    true value in the simulator that drove the service.

    Parameters
    ----------
    path : Path
        The decision log (JSON lines) the simulator's rounds were played into
        (:func:`workbench.serving.simulate.drive`).
    simulator : BanditSimulator
        Its ``action_names`` are the action catalogue (item ids), its cells the contexts.
    challenger : ndarray of shape (n_cells, n_actions)
        The new policy's action probabilities per cell.
    n_bootstrap, random_state : int

    Returns
    -------
    estimates : DataFrame
        One row per estimator (``ips``, ``snips``, ``dr``): ``value, lower, upper, std,
        relative_error, covers``.
    true_value : float
    counts : Series
        The ingestion's reconciled counts (curated, quarantined, duplicates...).

    Raises
    ------
    ValueError
        When no decision of the log could be used.
    """
    ingested = decisions.load(path=path, actions=list(simulator.action_names))
    logs = ingested["bandit_logs"]
    if logs.empty:
        raise ValueError(f"{path}: no usable decision ({dict(ingested['counts'])})")
    estimates, true_value = offline.value_on_logged_decisions(
        logs, simulator, challenger, n_bootstrap, random_state
    )
    return estimates, true_value, ingested["counts"]


@dataclass
class ClosedLoop:
    """The closed loop's valuation (:func:`closed_loop`), for the notebook and MLflow.

    Attributes
    ----------
    estimates : DataFrame
        One row per estimator (``ips``, ``snips``, ``dr``): ``value, lower, upper, std,
        relative_error, covers``.
    true_value : float
        The challenger's value in the simulator, recomputed from the record.
    counts : Series
        The ingestion's reconciled counts over the whole log, ``simulated_rounds`` (played, per
        the record) and ``rounds`` (of them, curated and valued).
    quarantine : DataFrame
        The decisions the ``decisions`` source quarantined, with their reasons.
    record : dict
        The simulation record (:func:`workbench.bandits.offline.read_simulation_record`).
    """

    estimates: pd.DataFrame
    true_value: float
    counts: pd.Series
    quarantine: pd.DataFrame
    record: dict = field(repr=False)

    @property
    def metrics(self) -> dict[str, float]:
        """``closed_loop.``-prefixed figures: the counts, the truth, each estimate and interval."""
        metrics = {f"closed_loop.{key}": float(value) for key, value in self.counts.items()}
        metrics["closed_loop.true_value"] = self.true_value
        metrics["closed_loop.recorded_true_value"] = float(self.record["true_value"])
        for name, row in self.estimates.iterrows():
            for column in ("value", "lower", "upper", "relative_error", "covers"):
                metrics[f"closed_loop.{name}.{column}"] = float(row[column])
        return metrics

    def table(self) -> pd.DataFrame:
        """The estimates beside the truth."""
        return self.estimates.assign(true_value=self.true_value)


def closed_loop(
    decision_log: str | Path, n_bootstrap: int = 200, random_state: int = 0
) -> ClosedLoop:
    """The closed loop in the notebook: the service's decision log, ingested by the
    ``decisions`` source (its quality and privacy rules), and the challenger of the simulation
    record beside it (``workbench simulate`` writes both) valued by IPS, SNIPS and DR on the
    service's logged propensities of the simulated rounds, beside its true value.

    Raises
    ------
    FileNotFoundError
        When the log or its simulation record is missing.
    ValueError
        When no simulated round of the log could be used.
    """
    if not Path(decision_log).is_file():
        raise FileNotFoundError(f"decision_log: no decision log at {decision_log!r}")
    simulator, challenger, record = offline.read_simulation_record(decision_log)
    ingested = decisions.load(path=decision_log, actions=list(simulator.action_names))
    logs = ingested["bandit_logs"]
    logs = logs[logs["event_id"].isin(record["event_ids"])].reset_index(drop=True)
    if logs.empty:
        raise ValueError(f"{decision_log}: none of the simulated rounds is usable")
    estimates, true_value = offline.value_on_logged_decisions(
        logs, simulator, challenger, n_bootstrap, random_state
    )
    played = pd.Series({"simulated_rounds": len(record["event_ids"]), "rounds": len(logs)})
    counts = pd.concat([ingested["counts"], played])
    log.info("closed loop on %s: %s, truth %.4f", decision_log, dict(counts), true_value)
    return ClosedLoop(estimates, true_value, counts, ingested["quarantine"], record)
