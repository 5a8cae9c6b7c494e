"""One way to publish a model: log it, register it, gate the champion, reload it and check.

Every notebook publishes in one call::

    published = publish(RecommenderService.from_fitted(...), f"{dataset}-recommender",
                        example=request, metric="ndcg_at_10", value=0.42, scorer=scorer)

The model is any *publishable* object: it logs itself (:meth:`log`) and answers an example
request in memory (:meth:`answer`); the version reloaded from the registry must give the same
answers, or publishing fails. Flavors: ``recommender.RecommenderService``,
``policy.PolicyModel`` and ``segmenter.SegmenterModel``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
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
    decision : Decision or None
        The gate's verdict (None when nothing was registered or aliases were left alone).
    reproduced : bool
        Whether the reloaded version gave the in-memory answers.
    """

    name: str
    version: str | None
    decision: gate.Decision | None
    reproduced: bool

    @property
    def champion(self) -> bool:
        """Whether the new version holds the champion alias."""
        return self.decision is not None and self.decision.promote

    @property
    def uri(self) -> str | None:
        return None if self.version is None else f"models:/{self.name}/{self.version}"


#: ``scorer(predict) -> ndarray of shape (n_users,)``: per-user scores of a model that answers
#: requests through ``predict`` (the in-memory ``answer`` or a registered version's ``predict``).
Scorer = Callable[[Callable[[pd.DataFrame], object]], np.ndarray]


def publish(
    model: Publishable,
    name: str,
    example: pd.DataFrame,
    metric: str | None = None,
    value: float | None = None,
    higher_is_better: bool = True,
    register: bool = True,
    promote: bool = True,
    scorer: Scorer | None = None,
    margin: float = 0.0,
    version_metrics: dict[str, float] | None = None,
) -> Published:
    """Log ``model``, register it as ``name``, reload and check it, then gate the champion.

    Parameters
    ----------
    model : Publishable
    name : str
        Registered model name (``<data set>-recommender``).
    example : DataFrame
        A request the reloaded model must answer like ``model`` does.
    metric, value : str and float, optional
        The test figure that gates the champion alias; without them the new version always
        becomes champion (a segmenter must reproduce the persona table just written).
    higher_is_better : bool
    register : bool
        False logs and registers nothing (interactive exploration).
    promote : bool
        False registers the version but never moves an alias (an interactive run asked to
        register).
    scorer : callable, optional
        Per-user scores on the test users, applied to the new version and to the champion
        alike; the gate then compares them pairwise (bootstrap interval of the difference).
    margin : float
        How much better than the champion the new version must be.
    version_metrics : dict of str to float, optional
        More figures recorded on the new version's tags, for comparison in the registry.

    Raises
    ------
    RuntimeError
        When the reloaded version answers differently.
    """
    if not register:
        return Published(name, None, None, True)
    info = model.log(name, example)
    version = str(info.registered_model_version)
    figures = {**(version_metrics or {}), **({metric: value} if metric else {})}
    for key, figure in figures.items():
        gate.tag_version_metric(name, version, key, figure)
    served = _load(name, version).predict(example)
    if not same_answers(model.answer(example), served):
        raise RuntimeError(f"{name} v{version} reloaded from the registry answers differently")
    mlflow.set_tags({f"workbench.published.{name}": version})
    if not promote:
        log.info("registered %s v%s; aliases left alone (interactive run)", name, version)
        return Published(name, version, None, True)
    decision = _decide(model, name, metric, value, higher_is_better, scorer, margin)
    run = mlflow.active_run()
    gate.apply(name, version, decision, run.info.run_id if run else None)
    mlflow.set_tags({f"workbench.decision.{name}": _summary(version, decision)})
    return Published(name, version, decision, True)


def _load(name: str, version: str):
    return mlflow.pyfunc.load_model(f"models:/{name}/{version}")


def _decide(model, name, metric, value, higher_is_better, scorer, margin) -> gate.Decision:
    """The gate's decision, with per-user scores of both versions when a scorer is given."""
    if metric is None:
        return gate.decide(None, None)
    champion_version, champion_value = gate.champion_figure(name, metric)
    scores = None
    if scorer is not None and champion_version is not None:
        champion = _load(name, champion_version)
        scores = (scorer(model.answer), scorer(champion.predict))
    return gate.decide(
        metric, value, champion_version, champion_value, scores, margin, higher_is_better
    )


def _summary(version: str, decision: gate.Decision) -> str:
    verdict = "moved to" if decision.promote else "kept; challenger"
    return f"champion {verdict} v{version}: {decision.reason}"


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


def log_answering_model(
    model, name: str, packages: tuple[str, ...], example: pd.DataFrame, n_examples: int,
    registered_model_name: str | None = None,
):  # fmt: skip
    """Log ``model`` (a pyfunc with ``answer(frame)``) to the active run as artifact ``name``.

    The signature is inferred from ``example`` and the model's answer to it; the first
    ``n_examples`` rows are stored as the input example. Registered when a name is given.
    Returns MLflow's ModelInfo.
    """
    info = mlflow.pyfunc.log_model(
        name=name,
        python_model=model,
        pip_requirements=pip_requirements(packages),
        signature=mlflow.models.infer_signature(example, model.answer(example)),
        input_example=example.head(n_examples),
        registered_model_name=registered_model_name,
    )
    log.info("logged %s as %s", type(model).__name__, info.model_uri)
    return info
