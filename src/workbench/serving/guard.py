"""The canary guard: rolls the challenger back when it does worse than the champion.

Per variant and model version it counts decisions, errors (the variant's model failed and the
champion answered instead) and rewards. Once the challenger has ``min_decisions`` decisions
and the champion too, it is rolled back when its error rate exceeds the champion's by
``error_margin`` or its mean reward per decision falls below the champion's by
``reward_margin``. A rolled-back version gets no more traffic until the challenger alias moves
to another version. The service records the rollback in its decision log and in the registry
(tags of the version and the alias history, :func:`workbench.publish.gate.record_rollback`),
so that a service started later gives the version no traffic either.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from workbench.serving.settings import CHALLENGER, CHAMPION, Guard


@dataclass
class VariantStats:
    """Counts of one variant's version."""

    decisions: int = 0
    errors: int = 0
    reward: float = 0.0

    @property
    def error_rate(self) -> float:
        return self.errors / max(self.decisions, 1)

    @property
    def mean_reward(self) -> float:
        return self.reward / max(self.decisions, 1)


class CanaryGuard:
    """Counts per (variant, version) and the versions rolled back."""

    def __init__(self):
        self.stats: dict[tuple[str, str], VariantStats] = {}
        self.rolled_back: set[str] = set()
        self._lock = threading.Lock()

    def _get(self, variant: str, version: str) -> VariantStats:
        return self.stats.setdefault((variant, version), VariantStats())

    def record_decision(self, variant: str, version: str, error: bool = False) -> None:
        with self._lock:
            stats = self._get(variant, version)
            stats.decisions += 1
            stats.errors += int(error)

    def record_reward(self, variant: str, version: str, reward: float) -> None:
        with self._lock:
            self._get(variant, version).reward += reward

    def figures(self, champion: str, challenger: str) -> dict[str, float]:
        """Decisions, error rate and mean reward of both versions (what a rollback records)."""
        with self._lock:
            pairs = (("champion", self._get(CHAMPION, champion)),
                     ("challenger", self._get(CHALLENGER, challenger)))  # fmt: skip
            return {
                f"{name}_{figure}": float(getattr(stats, figure))
                for name, stats in pairs
                for figure in ("decisions", "error_rate", "mean_reward")
            }

    def verdict(self, config: Guard, champion: str, challenger: str) -> str | None:
        """Why ``challenger`` must be rolled back, or None while it holds up."""
        if not config.enabled or challenger in self.rolled_back:
            return None
        with self._lock:
            ours = self._get(CHALLENGER, challenger)
            theirs = self._get(CHAMPION, champion)
            if min(ours.decisions, theirs.decisions) < config.min_decisions:
                return None
            if ours.error_rate > theirs.error_rate + config.error_margin:
                return (
                    f"error rate {ours.error_rate:.3f} over the champion's "
                    f"{theirs.error_rate:.3f} + {config.error_margin}"
                )
            if ours.mean_reward < theirs.mean_reward - config.reward_margin:
                return (
                    f"mean reward {ours.mean_reward:.3f} under the champion's "
                    f"{theirs.mean_reward:.3f} - {config.reward_margin} "
                    f"({ours.decisions} and {theirs.decisions} decisions)"
                )
        return None
