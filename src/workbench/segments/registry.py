"""The segmenter in the MLflow model registry: log, register as ``<data set>-personas``, load.

The model is stored with skops (MLflow's default for scikit-learn, safer than pickle); the
types it holds beyond skops' defaults are checked to come from scikit-learn, numpy or the
persona clusterer, and declared trusted. Requirements are pinned
explicitly, which spares MLflow seconds of inference per model; loading needs the
``workbench`` package installed (the persona clusterer lives there).
"""

from __future__ import annotations

import logging
from importlib.metadata import version

import mlflow
import pandas as pd
import skops.io
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient
from sklearn.pipeline import Pipeline

from workbench import tracking

log = logging.getLogger(__name__)

ARTIFACT_NAME = "segmenter"
#: Modules whose types the skops file may hold: scikit-learn internals (trees, distance
#: metrics), numpy dtypes and the persona clusterer. Anything else stops the logging.
TRUSTED_MODULES = ("sklearn.", "numpy.", "workbench.segments.personas.")
REQUIREMENTS = ("scikit-learn", "numpy", "pandas", "scipy")


def model_name(dataset: str) -> str:
    """The registered name of a data set's segmenter."""
    return f"{dataset}-personas"


def pip_requirements() -> list[str]:
    """Pinned requirements of the segmenter, from the running environment."""
    return [f"{package}=={version(package)}" for package in REQUIREMENTS]


def trusted_types(segmenter: Pipeline) -> list[str]:
    """The types skops does not trust by default in ``segmenter``, all from trusted modules.

    Raises
    ------
    TypeError
        Naming any type from another module (it would make the stored model unsafe to load).
    """
    found = skops.io.get_untrusted_types(data=skops.io.dumps(segmenter))
    foreign = [name for name in found if not name.startswith(TRUSTED_MODULES)]
    if foreign:
        raise TypeError(f"the segmenter holds types from untrusted modules: {foreign}")
    return found


def register_segmenter(
    segmenter: Pipeline,
    features: pd.DataFrame,
    dataset: str,
    metrics: dict[str, float] | None = None,
    alias: str = tracking.CHAMPION,
) -> str:
    """Log ``segmenter`` to the active run, register it and give the new version ``alias``.

    The new version always takes the alias: the persona assignments written to the curated
    layer come from this segmenter, and the registered champion must reproduce them. The
    ``metrics`` are kept as version tags for comparison in the registry.

    Parameters
    ----------
    segmenter : Pipeline
        Fitted; predicts a persona from user features.
    features : DataFrame of shape (n_users, n_features)
        The features it was fitted on; a few rows become the signature's example.
    dataset : str
    metrics : dict of str to float, optional
    alias : str

    Returns
    -------
    str
        The registered version.
    """
    trusted = trusted_types(segmenter)
    sample = features.head(20)
    signature = infer_signature(sample, segmenter.predict(sample))
    info = mlflow.sklearn.log_model(
        segmenter,
        name=ARTIFACT_NAME,
        pip_requirements=pip_requirements(),
        signature=signature,
        skops_trusted_types=trusted,
        registered_model_name=model_name(dataset),
    )
    registered = str(info.registered_model_version)
    client = MlflowClient()
    for metric, value in (metrics or {}).items():
        tracking.tag_version_metric(model_name(dataset), registered, metric, value)
    client.set_registered_model_alias(model_name(dataset), alias, registered)
    log.info("registered %s v%s as %s", model_name(dataset), registered, alias)
    return registered


def load_segmenter(dataset: str, alias: str = tracking.CHAMPION) -> Pipeline:
    """The segmenter registered for ``dataset`` under ``alias`` (``models:/<name>@<alias>``)."""
    return mlflow.sklearn.load_model(f"models:/{model_name(dataset)}@{alias}")
