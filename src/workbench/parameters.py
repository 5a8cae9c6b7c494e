"""The allowed values of notebook parameters, checked before any notebook runs.

Papermill knows a parameter's type; this module knows its range or its choices, by name, for
every notebook that declares it (``k >= 1``; ``families`` from the model catalogue;
``policies`` from the policy registry). The runner checks every resolved parameter, so
``--set 40_collaborative.k=-5`` fails in a second with the notebook, the key and the value,
not a minute later inside the notebook.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from workbench import engines
from workbench.bandits.offline import simulation_record_path
from workbench.bandits.ope import ESTIMATORS
from workbench.bandits.policies import POLICIES
from workbench.config import SOURCES, ProjectPaths
from workbench.models.catalogue import FAMILIES
from workbench.models.conversion import FAMILIES as CONVERSION_FAMILIES
from workbench.segments.personas import ALGORITHMS, FEATURE_GROUPS

SPLITS = ("stratified", "random", "chronological", "leave_last_out")


@dataclass(frozen=True)
class Range:
    """A number within ``[low, high]`` (an end is open when ``*_open``; None: unbounded)."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def problem(self, value: Any) -> str | None:
        low_ok = self.low is None or (value > self.low if self.low_open else value >= self.low)
        high_ok = self.high is None or (value < self.high if self.high_open else value <= self.high)
        return None if low_ok and high_ok else f"must be {self}"

    def __str__(self) -> str:
        low = "-inf" if self.low is None else f"{self.low:g}"
        high = "inf" if self.high is None else f"{self.high:g}"
        return f"in {'(' if self.low_open else '['}{low}, {high}{')' if self.high_open else ']'}"


@dataclass(frozen=True)
class Choices:
    """One of, or (``many``) a non-empty list of, the allowed names."""

    allowed: Callable[[], tuple[str, ...]]
    many: bool = False

    def problem(self, value: Any) -> str | None:
        allowed = self.allowed()
        values = value if self.many else [value]
        if self.many and not values:
            return "must name at least one"
        unknown = [v for v in values if v not in allowed]
        return f"unknown {unknown}; known: {sorted(allowed)}" if unknown else None


@dataclass(frozen=True)
class DecisionLog:
    """Empty, or a decision log of ``workbench serve`` (relative to the project root) with the
    simulation record ``workbench simulate`` writes beside it."""

    def problem(self, value: Any) -> str | None:
        if value == "":
            return None
        path = ProjectPaths.discover().root / str(value)
        if not path.is_file():
            return f"no decision log at {path}"
        if not simulation_record_path(path).is_file():
            return f"no simulation record {simulation_record_path(path)} (`workbench simulate`)"
        return None


def _collaborative() -> tuple[str, ...]:
    return tuple(name for name, family in FAMILIES.items() if not family.needs_item_features)


AT_LEAST_ONE, AT_LEAST_ZERO = Range(1), Range(0)
POSITIVE = Range(0, low_open=True)
SHARE, OPEN_SHARE = Range(0, 1), Range(0, 1, True, True)

RULES: dict[str, Range | Choices | DecisionLog] = {
    "k": AT_LEAST_ONE,
    "n_trials": AT_LEAST_ZERO,
    "two_tower_trials": AT_LEAST_ZERO,
    "two_tower_epochs": AT_LEAST_ONE,
    "text_components": AT_LEAST_ONE,
    "n_examples": AT_LEAST_ZERO,
    "n_folds": AT_LEAST_ONE,
    "horizon": AT_LEAST_ONE,
    "n_logged": Range(2),
    "n_arms": Range(2),
    "n_bootstrap": AT_LEAST_ONE,
    "n_replays": AT_LEAST_ONE,
    "min_personas": Range(2),
    "max_personas": Range(2),
    "max_interactions": AT_LEAST_ONE,
    "half_life_days": AT_LEAST_ZERO,
    "tuning_timeout": AT_LEAST_ZERO,
    "tolerance": AT_LEAST_ZERO,
    "train_ratio": OPEN_SHARE,
    "tuning_fraction": OPEN_SHARE,
    "cold_item_fraction": OPEN_SHARE,
    "ab_power": OPEN_SHARE,
    "ab_lift": POSITIVE,
    "horizon_days": POSITIVE,
    "step_days": POSITIVE,
    "n_train_cutoffs": AT_LEAST_ONE,
    "margin": AT_LEAST_ZERO,
    "min_stability": SHARE,
    "stable_ari": SHARE,
    "min_persona_share": Range(0, 1, high_open=True),
    "families": Choices(_collaborative, many=True),
    "cf_families": Choices(_collaborative, many=True),
    "conversion_families": Choices(lambda: tuple(CONVERSION_FAMILIES), many=True),
    "candidates": Choices(lambda: tuple(FAMILIES), many=True),
    "policies": Choices(lambda: tuple(POLICIES), many=True),
    "algorithms": Choices(lambda: ALGORITHMS, many=True),
    "feature_groups": Choices(lambda: tuple(FEATURE_GROUPS), many=True),
    "split": Choices(lambda: SPLITS),
    "tuning_method": Choices(lambda: ("replay", *ESTIMATORS)),
    "two_tower_negatives": Choices(lambda: ("full", "in_batch")),
    "source": Choices(lambda: tuple(SOURCES)),
    "engine": Choices(lambda: engines.ENGINES),
    "decision_log": DecisionLog(),
}


def problems(parameters: dict[str, Any]) -> list[str]:
    """What is wrong with ``parameters`` (one notebook's): ``key=value: reason`` each."""
    found = []
    for key, value in parameters.items():
        rule = RULES.get(key)
        problem = rule.problem(value) if rule is not None else None
        if problem:
            found.append(f"{key}={value!r}: {problem}")
    low, high = parameters.get("min_personas"), parameters.get("max_personas")
    if low is not None and high is not None and low > high:
        found.append(f"min_personas={low!r} > max_personas={high!r}")
    return found
