"""One way to publish a model: log it, register it, gate the champion, reload it and check.

Every notebook publishes in one call::

    published = publish(RecommenderService.from_fitted(...), f"{dataset}-recommender",
                        example=request, metric="ndcg_at_10", value=0.42)

The model is any *publishable* object: it logs itself (:meth:`log`) and answers an example
request in memory (:meth:`answer`); the version reloaded from the registry must give the same
answers, or publishing fails. Flavors: ``recommender.RecommenderService``,
``policy.PolicyModel`` and ``segmenter.SegmenterModel``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Protocol

import mlflow
import numpy as np
import pandas as pd

from workbench.publish import gate

log = logging.getLogger(__name__)


class Publishable(Protocol):
    """What :func:`publish` needs of a model."""

    def log(self, registered_model_name: str | None, example: pd.DataFrame):
        """Log to the active run (registering as ``registered_model_name``); ModelInfo."""

    def answer(self, example: pd.DataFrame):
        """The in-memory answer to ``example``, which the reloaded model must reproduce."""


@dataclass(frozen=True)
class Published:
    """Where a published model went.

    Attributes
    ----------
    name : str
        Registered name.
    version : str or None
        Registered version; None when registration was turned off.
    champion : bool
        Whether the version holds the champion alias.
    reproduced : bool
        Whether the reloaded version gave the in-memory answers.
    """

    name: str
    version: str | None
    champion: bool
    reproduced: bool

    @property
    def uri(self) -> str | None:
        return None if self.version is None else f"models:/{self.name}/{self.version}"


def publish(
    model: Publishable,
    name: str,
    example: pd.DataFrame,
    metric: str | None = None,
    value: float | None = None,
    higher_is_better: bool = True,
    register: bool = True,
    version_metrics: dict[str, float] | None = None,
) -> Published:
    """Log ``model``, register it as ``name``, gate the champion, reload it and check it.

    Parameters
    ----------
    model : Publishable
    name : str
        Registered model name (``<data set>-recommender``).
    example : DataFrame
        A request the reloaded model must answer like ``model`` does.
    metric, value : str and float, optional
        The test metric that gates the champion alias; without them the new version always
        becomes champion (a segmenter must reproduce the persona table just written).
    higher_is_better : bool
    register : bool
        False logs and registers nothing (interactive exploration).
    version_metrics : dict of str to float, optional
        More figures recorded on the new version's tags, for comparison in the registry.

    Raises
    ------
    RuntimeError
        When the reloaded version answers differently.
    """
    if not register:
        return Published(name, None, False, True)
    info = model.log(name, example)
    version = str(info.registered_model_version)
    for key, figure in (version_metrics or {}).items():
        gate.tag_version_metric(name, version, key, figure)
    if metric is None:
        gate.promote(name, version)
        champion = True
    else:
        champion = gate.promote_if_better(name, version, metric, value, higher_is_better)
    served = mlflow.pyfunc.load_model(f"models:/{name}/{version}").predict(example)
    if not same_answers(model.answer(example), served):
        raise RuntimeError(f"{name} v{version} reloaded from the registry answers differently")
    mlflow.set_tags({f"workbench.published.{name}": version})
    log.info("published %s v%s%s", name, version, " (champion)" if champion else "")
    return Published(name, version, champion, True)


def same_answers(expected, served) -> bool:
    """Whether two answers (DataFrames, Series or arrays) hold the same values."""
    if isinstance(expected, pd.DataFrame) and isinstance(served, pd.DataFrame):
        left, right = expected.reset_index(drop=True), served.reset_index(drop=True)
        return list(left.columns) == list(right.columns) and all(
            left[column].tolist() == right[column].tolist() for column in left.columns
        )
    return bool(np.array_equal(np.asarray(expected), np.asarray(served)))


def pip_requirements(packages: tuple[str, ...]) -> list[str]:
    """``name==version`` of the installed ``packages`` (skipping any not installed).

    Explicit requirements spare MLflow seconds of inference per logged model.
    """
    pins = []
    for package in packages:
        try:
            pins.append(f"{package}=={version(package)}")
        except PackageNotFoundError:
            log.warning("%s is not installed; left out of the model's requirements", package)
    return pins
