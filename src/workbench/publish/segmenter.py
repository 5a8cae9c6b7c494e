"""The segmenter as a publishable model (``<data set>-personas``): features in, persona out.

The model is stored with skops (MLflow's default for scikit-learn, safer than pickle); the
types it holds beyond skops' defaults are checked to come from scikit-learn, numpy or the
persona clusterer, and declared trusted. Requirements are pinned
explicitly, which spares MLflow seconds of inference per model; loading needs the
``workbench`` package installed (the persona clusterer lives there).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import mlflow
import numpy as np
import pandas as pd
import skops.io
from mlflow.models import infer_signature
from sklearn.pipeline import Pipeline

from workbench.publish.registry import pip_requirements

log = logging.getLogger(__name__)

ARTIFACT_NAME = "segmenter"
#: Modules whose types the skops file may hold: scikit-learn internals (trees, distance
#: metrics), numpy dtypes and the persona clusterer. Anything else stops the logging.
TRUSTED_MODULES = ("sklearn.", "numpy.", "workbench.segments.personas.")
REQUIREMENTS = ("scikit-learn", "numpy", "pandas", "scipy")


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


@dataclass(frozen=True)
class SegmenterModel:
    """A fitted segmenter, publishable with :func:`workbench.publish.publish`.

    Parameters
    ----------
    segmenter : Pipeline
        Fitted; predicts a persona from a user features table.
    """

    segmenter: Pipeline

    def answer(self, example: pd.DataFrame) -> np.ndarray:
        """Persona labels of the users in ``example``, shape (n_users,)."""
        return self.segmenter.predict(example)

    def log(self, registered_model_name: str | None = None, example: pd.DataFrame | None = None):
        """Log with skops to the active run as ``segmenter``; ModelInfo.

        ``example`` is a features table (a few rows become the signature's example).
        """
        sample = example.head(20)
        return mlflow.sklearn.log_model(
            self.segmenter,
            name=ARTIFACT_NAME,
            pip_requirements=pip_requirements(REQUIREMENTS),
            signature=infer_signature(sample, self.answer(sample)),
            skops_trusted_types=trusted_types(self.segmenter),
            registered_model_name=registered_model_name,
        )


def load_segmenter(model_uri: str) -> Pipeline:
    """The segmenter stored at ``model_uri`` (``models:/<data set>-personas@champion``)."""
    return mlflow.sklearn.load_model(model_uri)
