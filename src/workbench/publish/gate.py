"""Gated promotion in the MLflow model registry, with aliases (never the deprecated stages).

A new version becomes ``champion`` only when it scores strictly better than the current
champion on the same metric; otherwise it is tagged ``challenger``. Metric values are stored on
each version as tags at full precision (``repr``), so the comparison reads back exactly the
number that was written: a tie never moves the alias.
"""

from __future__ import annotations

import logging

import mlflow
from mlflow.tracking import MlflowClient

log = logging.getLogger(__name__)

CHAMPION = "champion"
CHALLENGER = "challenger"


def tag_version_metric(model_name: str, version: str, metric: str, value: float) -> None:
    """Record ``metric`` on a registered model version at full precision."""
    MlflowClient().set_model_version_tag(
        model_name, version, f"metric.{metric}", repr(float(value))
    )


def alias_holder(model_name: str, alias: str = CHAMPION):
    """The model version holding ``alias``, or None."""
    try:
        return MlflowClient().get_model_version_by_alias(model_name, alias)
    except mlflow.exceptions.MlflowException:
        return None


def promote_if_better(
    model_name: str,
    version: str,
    metric: str,
    value: float,
    higher_is_better: bool = True,
) -> bool:
    """Give ``version`` the champion alias unless the current champion scores at least as well.

    Returns
    -------
    bool
        Whether ``version`` is now the champion.
    """
    tag_version_metric(model_name, version, metric, value)
    holder = alias_holder(model_name)
    if holder is not None and str(holder.version) != str(version):
        current = holder.tags.get(f"metric.{metric}")
        if current is not None:
            better = value > float(current) if higher_is_better else value < float(current)
            if not better:
                MlflowClient().set_registered_model_alias(model_name, CHALLENGER, version)
                log.info(
                    "%s v%s stays challenger: %s=%r vs champion v%s %s",
                    model_name, version, metric, value, holder.version, current,
                )  # fmt: skip
                return False
    MlflowClient().set_registered_model_alias(model_name, CHAMPION, version)
    return True


def promote(model_name: str, version: str, metrics: dict[str, float] | None = None) -> None:
    """Give ``version`` the champion alias unconditionally, recording ``metrics`` on it."""
    for metric, value in (metrics or {}).items():
        tag_version_metric(model_name, version, metric, value)
    MlflowClient().set_registered_model_alias(model_name, CHAMPION, version)
