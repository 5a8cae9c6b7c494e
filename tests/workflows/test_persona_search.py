"""The persona search: seeded study, reused scores, planted groups recovered, resumable."""

from __future__ import annotations

import optuna
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from workbench.segments import personas, selection
from workbench.segments.personas import PersonaClusterer
from workbench.tuning import Budget, n_counted
from workbench.workflows import personas as workflow


@pytest.fixture(scope="module")
def blobs():
    return make_blobs(n_samples=300, centers=4, cluster_std=0.6, random_state=2)


@pytest.mark.slow
def test_search_recovers_the_planted_groups(planted):
    """A seeded search over every algorithm picks personas that match the planted truth."""
    features = planted["features"]
    columns = personas.persona_columns(list(features.columns), ["rfm", "context", "affinity"])
    X = personas.make_preprocessor(columns).fit_transform(features)
    _, trials = workflow.search_personas(X, Budget(8, seed=0), n_personas=(3, 6), n_bootstrap=3)
    assert {"silhouette", "davies_bouldin", "calinski_harabasz", "stability"} <= set(trials)
    chosen = selection.choose_trial(trials)
    labels = PersonaClusterer(**selection.chosen_params(chosen), random_state=0).fit(X).labels_
    assert adjusted_rand_score(planted["truth"], labels) >= 0.9


def test_seed_study_queues_a_kmeans_sweep_once():
    study = optuna.create_study()
    workflow.seed_study(study, ["kmeans", "gmm"], (3, 5))
    waiting = study.get_trials(states=(optuna.trial.TrialState.WAITING,))
    queued = [t.system_attrs["fixed_params"] for t in waiting]
    assert queued == [{"algorithm": "kmeans", "n_clusters": k} for k in (3, 4, 5)]
    workflow.seed_study(study, ["gmm"], (3, 5))  # no k-means searched: nothing queued
    assert len(study.trials) == 3


def test_a_repeated_configuration_reuses_its_scores(blobs, monkeypatch):
    X, _ = blobs
    calls = []
    evaluate = workflow.evaluate_params
    monkeypatch.setattr(
        workflow, "evaluate_params", lambda *args: calls.append(args) or evaluate(*args)
    )
    objective = workflow.PersonaObjective(X, algorithms=("kmeans",), n_personas=(4, 4))
    study = optuna.create_study(direction="maximize")
    study.optimize(objective, n_trials=3)
    assert len(calls) == 1  # one configuration in the space: fitted once
    assert len({t.value for t in study.trials}) == 1
    assert study.trials[0].user_attrs == study.trials[2].user_attrs


def test_a_resumed_search_runs_only_up_to_its_budget(blobs, tmp_path):
    X, _ = blobs
    budget = Budget(3, storage=f"sqlite:///{tmp_path / 'optuna.db'}", seed=0)
    first, _ = workflow.search_personas(X, budget, algorithms=("kmeans",), n_personas=(3, 6))
    again, _ = workflow.search_personas(X, budget, algorithms=("kmeans",), n_personas=(3, 6))
    assert again.study_name == first.study_name and n_counted(again) == n_counted(first) == 3
    other, _ = workflow.search_personas(X, budget, algorithms=("kmeans",), n_personas=(3, 5))
    assert other.study_name != first.study_name


def test_an_in_memory_search_starts_with_the_k_means_sweep(blobs):
    X, _ = blobs
    study, trials = workflow.search_personas(
        X, Budget(3, seed=0), algorithms=("kmeans", "gmm"), n_personas=(3, 5)
    )
    assert [t.params for t in study.trials] == [
        {"algorithm": "kmeans", "n_clusters": k} for k in (3, 4, 5)
    ]
