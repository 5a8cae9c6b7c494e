"""The conversion workflow on a small synthetic site: seeded, leak-free, warm-startable."""

from __future__ import annotations

import pytest

from workbench import tuning
from workbench.config import ProjectPaths, load_pipeline_config
from workbench.data.sources import synthetic
from workbench.pipeline import plan
from workbench.workflows import conversion
from workbench.workflows.conversion import ConversionModel


@pytest.fixture(scope="module")
def site():
    tables = synthetic.generate(n_users=500, n_items=60, n_days=20, seed=5)
    old = tables["events"][tables["events"]["timestamp"] < "2026-01-17"]
    arguments = (tables["items"], tables["users"], 3.0, 1, 1, 2.0)
    return (
        tables,
        conversion.prepare(old, *arguments),
        conversion.prepare(tables["events"], *arguments),
    )


@pytest.mark.slow
def test_the_same_seed_gives_the_same_figures(site):
    _, before, _ = site
    budget = tuning.Budget(n_trials=2, seed=3)
    first = conversion.run_family("logistic", before, budget, n_bootstrap=20)
    second = conversion.run_family("logistic", before, budget, n_bootstrap=20)
    first.metrics.pop("fit_seconds"), second.metrics.pop("fit_seconds")
    assert first.metrics == second.metrics and first.params == second.params
    assert first.calibration in {"isotonic", "sigmoid"}


@pytest.mark.slow
def test_a_warm_update_continues_the_previous_model_on_the_new_cutoffs(site):
    tables, before, after = site
    assert after.cutoffs.test > before.cutoffs.test
    previous = conversion.run_family("hgb", before, tuning.Budget(n_trials=1), n_bootstrap=20)
    features, _ = before.xy("test")
    model = ConversionModel(previous.model, list(features.columns), before.horizon_days)
    updated = conversion.warm_update(model, after, n_bootstrap=20)
    assert updated.params["warm_start"] and updated.params["test_cutoff"] == str(after.cutoffs.test)
    old_trees = previous.model.estimator.estimator.steps[-1][1].n_iter_
    assert updated.params["n_iter"] == old_trees + 50  # kept its trees and added 50
    assert 0.5 < updated.metrics["roc_auc"] <= 1.0
    truth = conversion.planted_probability(tables["users"], after.horizon_days)
    assert conversion.oracle_auc(after, truth) > 0.5


def test_an_incremental_run_appends_and_warm_starts():
    paths = ProjectPaths.discover()
    config = load_pipeline_config(paths.root / "experiments" / "default.yaml", paths.notebooks)
    planned = {step.name: params for step, params in plan(config, paths, incremental=True)}
    assert planned["10_ingest"]["incremental_run"] is True
    assert planned["50_conversion"]["warm_start"] is True
    assert planned["40_collaborative"]["warm_start"] is True
    ordinary = {step.name: params for step, params in plan(config, paths)}
    assert ordinary["10_ingest"]["incremental_run"] is False
    assert ordinary["50_conversion"]["warm_start"] is False
    assert ordinary["40_collaborative"]["warm_start"] is False
