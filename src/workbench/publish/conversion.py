"""A calibrated conversion model as an MLflow pyfunc: user features in, probabilities out.

Published (:func:`workbench.publish.publish`) as ``<data set>-conversion``. ``predict`` answers
like scikit-learn's ``predict_proba``, never with class labels: one row per user and the columns
``p_no_conversion`` and ``p_conversion``. The input is the numeric user features of a snapshot
(:mod:`workbench.features.labels`), named in the model's signature; a missing column is an
error naming it, extra columns are ignored. Loading needs the ``workbench`` package installed.
"""

from __future__ import annotations

import logging

import mlflow
import numpy as np
import pandas as pd

from workbench.publish.registry import log_answering_model

log = logging.getLogger(__name__)

ARTIFACT_NAME = "conversion"
COLUMNS = ["p_no_conversion", "p_conversion"]
REQUIREMENTS = ("mlflow", "numpy", "pandas", "scikit-learn", "scipy")


class ConversionModel(mlflow.pyfunc.PythonModel):
    """Pyfunc wrapper of a fitted (calibrated) conversion classifier.

    Parameters
    ----------
    classifier : fitted classifier
        With ``predict_proba(features) -> ndarray of shape (n_users, 2)``.
    feature_names : list of str
        The numeric feature columns the classifier reads, in order.
    horizon_days : float
        The horizon the probabilities refer to (kept for the reader of the model).
    """

    def __init__(self, classifier, feature_names: list[str], horizon_days: float):
        self.classifier = classifier
        self.feature_names = list(feature_names)
        self.horizon_days = horizon_days

    def answer(self, example: pd.DataFrame) -> pd.DataFrame:
        """The in-memory probabilities for ``example``."""
        return self.predict(None, example)

    def log(self, registered_model_name: str | None = None, example: pd.DataFrame | None = None):
        """Log to the active run as ``conversion`` (registered when a name is given); ModelInfo."""
        example = example[self.feature_names].head(20)
        return log_answering_model(
            self, ARTIFACT_NAME, REQUIREMENTS, example, 2, registered_model_name
        )

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        """``p_no_conversion`` and ``p_conversion`` per input row, shape (n_rows, 2)."""
        frame = pd.DataFrame(model_input)
        missing = [name for name in self.feature_names if name not in frame.columns]
        if missing:
            raise ValueError(f"feature columns missing: {missing}")
        features = frame[self.feature_names].astype(float)
        probabilities = np.asarray(self.classifier.predict_proba(features), dtype=float)
        return pd.DataFrame(probabilities, columns=COLUMNS)
