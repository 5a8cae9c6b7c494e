"""Gated promotion in the MLflow model registry, with aliases (never the deprecated stages).

A new version becomes ``champion`` only when it beats the current champion:

- with per-user scores of both on the same test users (nDCG@k of each user), when the
  bootstrap interval of the paired difference lies above ``margin`` (0: it excludes zero);
- with single figures only (a policy's value), when the difference exceeds ``margin``.

Everything is compared at full precision. A tie or a loss keeps the champion; the new version
is tagged ``challenger`` with the comparison. Every decision is recorded on the version (its
tags) and every alias move in the registered model's history (``workbench.alias_history``):
when, from which run, why, and the figures. A challenger the serving guard rolls back is
recorded the same way (:func:`record_rollback`), without moving any alias.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import mlflow
import numpy as np
from mlflow.tracking import MlflowClient

from workbench.evaluation.compare import paired_bootstrap

log = logging.getLogger(__name__)

CHAMPION = "champion"
CHALLENGER = "challenger"
HISTORY_TAG = "workbench.alias_history"
HISTORY_LENGTH = 50
ROLLED_BACK_TAG = "workbench.rolled_back_at"


@dataclass(frozen=True)
class Decision:
    """The gate's verdict on one new version.

    Attributes
    ----------
    promote : bool
        Whether the version becomes champion.
    reason : str
        One readable sentence (``"nDCG +0.012 [0.004, 0.021] over v3 on 943 users"``).
    metric : str or None
    value : float or None
        The new version's figure.
    champion_version : str or None
        The version that held the alias when the decision was made.
    champion_value : float or None
    difference, lower, upper : float or None
        Paired mean difference and its bootstrap interval (per-user comparisons only).
    """

    promote: bool
    reason: str
    metric: str | None = None
    value: float | None = None
    champion_version: str | None = None
    champion_value: float | None = None
    difference: float | None = None
    lower: float | None = None
    upper: float | None = None


def decide(
    metric: str | None,
    value: float | None,
    champion_version: str | None = None,
    champion_value: float | None = None,
    scores: tuple[np.ndarray, np.ndarray] | None = None,
    margin: float = 0.0,
    higher_is_better: bool = True,
    random_state: int = 0,
) -> Decision:
    """Whether a new version with ``value`` on ``metric`` should replace the champion.

    Parameters
    ----------
    scores : (ndarray, ndarray), optional
        Per-user scores of the new version and of the champion on the same users; the
        paired bootstrap interval then decides.
    margin : float
        How much better the new version must be (on the interval's near end, or the figure).
    """
    if metric is None:
        return Decision(True, "always promoted: the latest version is the one in use")
    if champion_version is None:
        return Decision(True, "no champion yet", metric, value)
    sign = 1.0 if higher_is_better else -1.0
    if scores is not None:
        paired = paired_bootstrap(*scores, random_state=random_state)
        near = paired.lower if higher_is_better else -paired.upper
        promote = bool(near > margin) and math.isfinite(near)
        verdict = "beats" if promote else "does not beat"
        reason = (
            f"{verdict} v{champion_version}: {metric} difference {paired.difference:+.4f} "
            f"[{paired.lower:+.4f}, {paired.upper:+.4f}] over {paired.n_users} users"
        )
        return Decision(
            promote, reason, metric, value, champion_version, champion_value,
            paired.difference, paired.lower, paired.upper,
        )  # fmt: skip
    if champion_value is None:
        return Decision(True, f"champion v{champion_version} has no {metric}", metric, value)
    difference = sign * (value - champion_value)
    promote = difference > margin
    word = "beats" if promote else ("ties" if difference == 0 else "does not beat")
    reason = f"{word} v{champion_version}: {metric} {value!r} vs {champion_value!r}"
    return Decision(promote, reason, metric, value, champion_version, champion_value, difference)


def tag_version_metric(model_name: str, version: str, metric: str, value: float) -> None:
    """Record ``metric`` on a registered model version at full precision."""
    client = MlflowClient()
    client.set_model_version_tag(model_name, version, f"metric.{metric}", repr(float(value)))


def alias_holder(model_name: str, alias: str = CHAMPION):
    """The model version holding ``alias``, or None."""
    try:
        return MlflowClient().get_model_version_by_alias(model_name, alias)
    except mlflow.exceptions.MlflowException:
        return None


def champion_figure(model_name: str, metric: str) -> tuple[str | None, float | None]:
    """The champion's version and its recorded ``metric`` (None where missing)."""
    holder = alias_holder(model_name)
    if holder is None:
        return None, None
    recorded = holder.tags.get(f"metric.{metric}")
    return str(holder.version), None if recorded is None else float(recorded)


def apply(model_name: str, version: str, decision: Decision, run_id: str | None = None) -> None:
    """Record ``decision`` on the version; move the champion alias (or the challenger one)."""
    client = MlflowClient()
    when = datetime.now(UTC).isoformat(timespec="seconds")
    tags = {"workbench.decision": "champion" if decision.promote else CHALLENGER}
    tags.update({"workbench.decision_reason": decision.reason, "workbench.decided_at": when})
    if run_id:
        tags["workbench.decided_in_run"] = run_id
    for key, value in tags.items():
        client.set_model_version_tag(model_name, version, key, value)
    alias = CHAMPION if decision.promote else CHALLENGER
    move_alias(model_name, alias, version, decision.reason, run_id, asdict(decision))
    log.info("%s v%s: %s (%s)", model_name, version, alias, decision.reason)


def move_alias(
    model_name: str,
    alias: str,
    version: str,
    reason: str,
    run_id: str | None = None,
    figures: dict | None = None,
) -> None:
    """Point ``alias`` at ``version`` and append the move to the model's alias history."""
    client = MlflowClient()
    previous = alias_holder(model_name, alias)
    client.set_registered_model_alias(model_name, alias, str(version))
    entry = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "alias": alias,
        "version": str(version),
        "from_version": None if previous is None else str(previous.version),
        "run_id": run_id,
        "reason": reason,
        "figures": _figures(figures),
    }
    _append_history(client, model_name, entry)


def record_rollback(
    model_name: str, version: str, reason: str, figures: dict | None = None
) -> dict:
    """Record that the serving guard rolled challenger ``version`` back; no alias moves.

    The version gets the tags ``workbench.rolled_back_at`` and ``workbench.rollback_reason``
    (services that load it later give it no traffic), and the model's alias history an entry
    with ``event: "rollback"`` (``version`` and ``from_version`` both the rolled-back one).

    Returns
    -------
    dict
        The history entry.
    """
    client = MlflowClient()
    when = datetime.now(UTC).isoformat(timespec="seconds")
    client.set_model_version_tag(model_name, version, ROLLED_BACK_TAG, when)
    client.set_model_version_tag(model_name, version, "workbench.rollback_reason", reason)
    entry = {
        "when": when,
        "alias": CHALLENGER,
        "event": "rollback",
        "version": str(version),
        "from_version": str(version),
        "run_id": None,
        "reason": f"rolled back by the serving guard: {reason}",
        "figures": _figures(figures),
    }
    _append_history(client, model_name, entry)
    log.warning("%s v%s rolled back: %s", model_name, version, reason)
    return entry


def _figures(figures: dict | None) -> dict:
    return {k: v for k, v in (figures or {}).items() if isinstance(v, float | int)}


def _append_history(client: MlflowClient, model_name: str, entry: dict) -> None:
    history = alias_history(model_name)[-(HISTORY_LENGTH - 1) :] + [entry]
    client.set_registered_model_tag(model_name, HISTORY_TAG, json.dumps(history))


def alias_history(model_name: str) -> list[dict]:
    """Every recorded alias move of ``model_name``, oldest first."""
    model = MlflowClient().get_registered_model(model_name)
    return json.loads(model.tags.get(HISTORY_TAG, "[]"))
