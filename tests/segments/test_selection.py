"""Model selection: internal scores, bootstrap stability and the choice of a partition."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs

from workbench.segments import selection
from workbench.segments.personas import PersonaClusterer


@pytest.fixture(scope="module")
def blobs():
    return make_blobs(n_samples=300, centers=4, cluster_std=0.6, random_state=2)


def test_scores_prefer_the_true_number_of_blobs(blobs):
    X, _ = blobs
    scores = {
        k: selection.partition_scores(
            X, PersonaClusterer(n_clusters=k, random_state=0).fit(X).labels_
        )
        for k in (2, 4, 7)
    }
    assert max(scores, key=lambda k: scores[k]["silhouette"]) == 4
    assert min(scores, key=lambda k: scores[k]["davies_bouldin"]) == 4
    assert max(scores, key=lambda k: scores[k]["calinski_harabasz"]) == 4


def test_one_persona_or_only_noise_has_no_scores():
    scores = selection.partition_scores(
        np.random.default_rng(0).normal(size=(30, 2)), np.full(30, -1)
    )
    assert scores["n_personas"] == 0 and scores["noise_share"] == 1.0
    assert np.isnan(scores["silhouette"])
    assert selection.selection_score({**scores, "stability": 1.0}, 0.8, 0.03) == -1.0


def test_stability_is_high_on_blobs_and_low_on_noise(blobs):
    X, _ = blobs
    model = PersonaClusterer(n_clusters=4, random_state=0)
    assert selection.bootstrap_stability(model, X, n_bootstrap=4, random_state=0).min() > 0.95
    noise = np.random.default_rng(0).uniform(size=(300, 6))
    unstable = PersonaClusterer(n_clusters=7, n_init=1, random_state=0)
    assert (
        selection.bootstrap_stability(unstable, noise, n_bootstrap=4, random_state=0).mean() < 0.8
    )


def test_selection_score_penalizes_instability_tiny_personas_and_noise():
    good = {"n_personas": 4, "silhouette": 0.4, "noise_share": 0.0, "stability": 0.95,
            "smallest_share": 0.2}  # fmt: skip
    assert selection.selection_score(good, 0.8, 0.03) == pytest.approx(0.4)
    assert selection.selection_score({**good, "stability": 0.6}, 0.8, 0.03) == pytest.approx(0.2)
    assert selection.selection_score({**good, "noise_share": 0.5}, 0.8, 0.03) == pytest.approx(0.2)
    tiny = selection.selection_score({**good, "smallest_share": 0.003}, 0.8, 0.03)
    assert tiny == pytest.approx(0.4 - 0.9)
    assert selection.selection_score(good, 0.8, 0.03, n_personas=(5, 8)) == -1.0
    assert selection.selection_score(good, 0.8, 0.03, n_personas=(2, 3)) == -1.0


def test_choose_trial_takes_the_finest_stable_well_separated_partition():
    trials = pd.DataFrame(
        {
            "n_personas": [3, 4, 5, 8],
            selection.METRIC: [0.25, 0.22, 0.19, 0.10],
            "stability": [0.99, 0.99, 0.84, 0.99],
            "algorithm": "kmeans",
        }
    )
    assert selection.choose_trial(trials)["n_personas"] == 4  # 5 unstable, 8 poorly separated
    assert selection.choose_trial(trials, tolerance=0.05)["n_personas"] == 3
    assert selection.choose_trial(trials, stable_ari=0.8)["n_personas"] == 5
    assert selection.choose_trial(trials, tolerance=1.0)["n_personas"] == 8
    unstable = trials.assign(stability=0.7)
    assert selection.choose_trial(unstable)["n_personas"] == 3  # none stable: the best score


def test_chosen_params_drop_other_algorithms_parameters():
    row = pd.Series({"algorithm": "hdbscan", "n_clusters": np.nan, "min_cluster_size": 12.0,
                     "min_samples": 5.0, "stability": 0.9})  # fmt: skip
    params = selection.chosen_params(row)
    assert params == {"algorithm": "hdbscan", "min_samples": 5, "min_cluster_size": 12}
    PersonaClusterer(**params)  # valid keyword arguments
