"""Parameters are checked before any notebook runs: typos, ranges and choices, by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench import parameters
from workbench.config import ConfigError, ProjectPaths, load_pipeline_config
from workbench.pipeline import plan, raising_line

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def default():
    paths = ProjectPaths(ROOT)
    return load_pipeline_config(ROOT / "experiments" / "default.yaml", paths.notebooks), paths


def test_the_default_pipeline_plans_with_register_on(default):
    config, paths = default
    planned = plan(config, paths)
    registering = {step.name for step, params in planned if params.get("register") is True}
    assert registering == {
        "20_personas",
        "30_content_based",
        "40_collaborative",
        "50_conversion",
        "60_bandits",
        "70_compare_register",
    }
    assert all(params["fresh"] is False for _, params in planned if "fresh" in params)
    fresh = plan(config, paths, fresh=True)
    assert all(params["fresh"] for _, params in fresh if "fresh" in params)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"n_trial": 3}, "no notebook in this run declares 'n_trial'"),
        ({"41_collaborative.k": 5}, "no notebook '41_collaborative'"),
        (
            {"40_collaborative.k": -5},
            "notebooks.40_collaborative.parameters: k=-5: must be in [1, inf]",
        ),
        ({"40_collaborative.families": ["ease", "nope"]}, "unknown ['nope']"),
        ({"60_bandits.tuning_method": "ips2"}, "tuning_method='ips2'"),
        ({"train_ratio": 1.0}, "train_ratio=1.0: must be in (0, 1)"),
        ({"40_collaborative.k": "ten"}, "expected int"),
        (
            {"50_conversion.conversion_families": ["hgb", "xgb"]},
            "50_conversion.parameters: conversion_families=['hgb', 'xgb']: unknown ['xgb']",
        ),
        ({"50_conversion.conversion_families": []}, "must name at least one"),
        ({"50_conversion.horizon_days": 0.0}, "horizon_days=0.0: must be in (0, inf]"),
        ({"50_conversion.step_days": -2.0}, "step_days=-2.0: must be in (0, inf]"),
        ({"50_conversion.n_train_cutoffs": 0}, "n_train_cutoffs=0: must be in [1, inf]"),
        ({"50_conversion.warm_start": "yes"}, "50_conversion.parameters.warm_start: expected bool"),
        ({"warm_strat": True}, "no notebook in this run declares 'warm_strat'"),
        ({"40_collaborative.engine": "sprak"}, "engine='sprak': unknown ['sprak']"),
    ],
)
def test_a_bad_override_is_an_error_before_any_work(default, overrides, message):
    config, paths = default
    with pytest.raises(ConfigError) as raised:
        plan(config, paths, overrides=overrides)
    assert message in str(raised.value)


def test_min_personas_above_max_is_named():
    found = parameters.problems({"min_personas": 6, "max_personas": 4})
    assert found == ["min_personas=6 > max_personas=4"]
    assert parameters.problems({"k": 10, "families": ["ease", "als"], "unknown_knob": -1}) == []


def test_failure_summary_quotes_the_line_that_raised_not_the_first_line():
    traceback = [
        "\x1b[31m---------------------------------------------------------------------------\x1b[39m",
        "\x1b[31mValueError\x1b[39m  Traceback (most recent call last)",
        "Cell \x1b[32mIn[3]\x1b[39m, line 3\n      1 total = 1\n      2 other = 2\n"
        '\x1b[32m----> 3\x1b[39m \x1b[38;5;28;01mraise\x1b[39;00m ValueError("boom")\n',
    ]
    assert raising_line(traceback) == ['raise ValueError("boom")']
    assert raising_line([]) == []
