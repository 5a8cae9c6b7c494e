"""The persona experiment: an Optuna search over clustering algorithms, scored for stability.

Shared by ``notebooks/20_personas.ipynb``. The scores themselves (partition quality,
bootstrap stability, the selection score, the choice of a trial) are pure functions of
:mod:`workbench.segments.selection`; this module adds the objective
(:class:`PersonaObjective`), the study seeded with a k-means sweep (:func:`search_personas`)
and the table of its trials.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace

import mlflow
import numpy as np
import optuna
import pandas as pd
from sklearn.neighbors import NearestNeighbors
from threadpoolctl import threadpool_limits

from workbench import tuning
from workbench.segments.personas import ALGORITHMS, MAX_FIT_SAMPLES
from workbench.segments.selection import (
    METRIC,
    OBJECTIVE_VERSION,
    evaluate_params,
    selection_score,
    suggest_params,
)

log = logging.getLogger(__name__)


@dataclass
class PersonaObjective:
    """Optuna objective over encoded user features, holding the data between trials.

    Each trial fits a ``PersonaClusterer``, scores the partition and its bootstrap stability,
    logs every score to the active (nested) MLflow run and the trial's user attributes, and
    returns ``selection_score``. A configuration the sampler proposes again is not refitted:
    its earlier scores are reused.

    Parameters
    ----------
    X : ndarray of shape (n_users, n_encoded)
        Output of the segmenter's preprocessor.
    algorithms : tuple of str
    n_personas : (int, int)
    n_bootstrap : int
    min_stability : float
    min_share : float
        Smallest acceptable persona, as a share of users.
    random_state : int
    n_threads : int or None
        BLAS and OpenMP threads while a trial fits; one avoids oversubscription on a shared
        machine (k-means ran 20x slower with two threads on two busy cores), None leaves the
        libraries' default.
    """

    X: np.ndarray
    algorithms: tuple[str, ...] = ALGORITHMS
    n_personas: tuple[int, int] = (3, 8)
    n_bootstrap: int = 4
    min_stability: float = 0.8
    min_share: float = 0.03
    random_state: int = 0
    n_threads: int | None = 1
    eps_range: tuple[float, float] = field(init=False)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.algorithms) - set(ALGORITHMS))
        if unknown:
            raise ValueError(f"unknown algorithm(s) {unknown}; known: {ALGORITHMS}")
        rng = np.random.default_rng(self.random_state)  # distances in a sample of a fit's size
        sample = self.X[rng.choice(len(self.X), min(len(self.X), MAX_FIT_SAMPLES), replace=False)]
        distances, _ = NearestNeighbors(n_neighbors=10).fit(sample).kneighbors(sample)
        self.eps_range = tuple(float(q) for q in np.quantile(distances[:, -1], [0.2, 0.95]))

    def __call__(self, trial: optuna.Trial) -> float:
        params = suggest_params(
            trial,
            tuple(self.algorithms),
            tuple(self.n_personas),
            self.eps_range,
            min(len(self.X), MAX_FIT_SAMPLES),
        )
        twin = _completed_twin(trial)
        if twin is not None:  # the sampler proposed a configuration already scored
            scores, value = dict(twin.user_attrs), float(twin.value)
        else:
            with threadpool_limits(limits=self.n_threads):
                scores = evaluate_params(params, self.X, self.n_bootstrap, self.random_state)
            value = selection_score(
                scores, self.min_stability, self.min_share, tuple(self.n_personas)
            )
        for name, score in scores.items():
            trial.set_user_attr(name, score)
        if mlflow.active_run() is not None:
            mlflow.log_metrics({k: v for k, v in scores.items() if np.isfinite(v)})
        return value


def _completed_twin(trial: optuna.Trial) -> optuna.trial.FrozenTrial | None:
    """An earlier completed trial of the same study with exactly the same parameters."""
    done = trial.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    return next((t for t in done if t.params == trial.params), None)


def seed_study(study: optuna.Study, algorithms: list[str], n_personas: tuple[int, int]) -> None:
    """Queue a k-means trial for every number of personas, unless the study has trials."""
    if study.trials or "kmeans" not in algorithms:
        return
    for k in range(n_personas[0], n_personas[1] + 1):
        study.enqueue_trial({"algorithm": "kmeans", "n_clusters": k})


def trials_table(study: optuna.Study) -> pd.DataFrame:
    """Completed trials with their parameters, scores and objective, one row each."""
    rows = [
        {"trial": t.number, **t.params, **t.user_attrs, METRIC: t.value}
        for t in study.trials
        if t.state == optuna.trial.TrialState.COMPLETE
    ]
    return pd.DataFrame(rows)


def search_personas(
    X: np.ndarray,
    budget: tuning.Budget,
    algorithms: tuple[str, ...] = ALGORITHMS,
    n_personas: tuple[int, int] = (3, 8),
    n_bootstrap: int = 4,
    min_stability: float = 0.8,
    min_share: float = 0.03,
) -> tuple[optuna.Study, pd.DataFrame]:
    """Search persona partitions of ``X`` for ``budget.n_trials`` trials (resumed if stored).

    The study starts with a k-means sweep over the range of personas, so every size has a
    baseline before the sampler explores the other algorithms; its identity covers every
    setting that shapes the scores and the objective's version.

    Returns
    -------
    study : optuna.Study
    trials : DataFrame
        ``trials_table`` of the study.
    """
    objective = PersonaObjective(
        X, tuple(algorithms), tuple(n_personas), n_bootstrap, min_stability, min_share, budget.seed
    )
    settings = {
        "algorithms": list(algorithms), "range": list(n_personas), "bootstrap": n_bootstrap,
        "stability": min_stability, "share": min_share, "objective_version": OBJECTIVE_VERSION,
    }  # fmt: skip
    if budget.storage is None:  # one in-memory storage, so the sweep queued below is kept
        budget = replace(budget, storage=optuna.storages.InMemoryStorage())
    name = budget.study_name("personas", **settings)
    fresh = tuning.create_study(name, budget.storage, budget.seed, fresh=budget.fresh)
    seed_study(fresh, algorithms, n_personas)
    resumed = replace(budget, fresh=False)  # started over above, before the k-means sweep
    study = tuning.run_study("personas", objective, resumed, METRIC, **settings)
    return study, trials_table(study)
