"""A fitted bandit policy as an MLflow pyfunc model: context in, action probabilities out.

Served decisions carry their propensities (the probability of the action taken), so that they
can be evaluated off-policy later. Published (:func:`workbench.publish.publish`) as
``<data set>-policy``; served, like the recommender, where ``workbench`` is installed.
"""

from __future__ import annotations

import logging

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import infer_signature

from workbench.bandits.base import BasePolicy
from workbench.publish.registry import pip_requirements

log = logging.getLogger(__name__)

_REQUIREMENTS = ("mlflow", "numpy", "pandas", "scikit-learn")


class PolicyModel(mlflow.pyfunc.PythonModel):
    """Pyfunc wrapper of a fitted policy.

    Parameters
    ----------
    policy : BasePolicy
        Fitted; a copy is pickled with the model.
    feature_names : list of str
        Context columns the model reads (ignored by context-free policies; missing columns are
        an error, extra ones are ignored).
    action_names : list of str
        Output columns, one per arm.
    """

    def __init__(self, policy: BasePolicy, feature_names: list[str], action_names: list[str]):
        self.policy = policy
        self.feature_names = list(feature_names)
        self.action_names = list(action_names)

    def example(self) -> pd.DataFrame:
        """Every one-hot context (one row per feature): a request covering each cell."""
        n_features = max(len(self.feature_names), 1)
        return pd.DataFrame(
            np.eye(n_features)[:, : len(self.feature_names)], columns=self.feature_names
        )

    def answer(self, example: pd.DataFrame) -> pd.DataFrame:
        """The in-memory action probabilities for ``example``."""
        return self.predict(None, example)

    def log(self, registered_model_name: str | None = None, example: pd.DataFrame | None = None):
        """Log to the active run as ``policy`` (registered when a name is given); ModelInfo."""
        example = self.example() if example is None else example
        info = mlflow.pyfunc.log_model(
            name="policy",
            python_model=self,
            pip_requirements=pip_requirements(_REQUIREMENTS),
            signature=infer_signature(example, self.answer(example)),
            input_example=example.head(1),
            registered_model_name=registered_model_name,
        )
        log.info("logged %s as %s", type(self.policy).__name__, info.model_uri)
        return info

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        """Action probabilities, one row per input row and one column per arm."""
        frame = pd.DataFrame(model_input)
        missing = [name for name in self.feature_names if name not in frame.columns]
        if missing and self.policy.contextual:
            raise ValueError(f"context columns missing: {missing}")
        if self.policy.contextual:
            contexts = frame[self.feature_names].to_numpy(dtype=float)
        else:
            contexts = np.zeros((len(frame), 1))
        probabilities = self.policy.predict_proba(contexts)
        return pd.DataFrame(probabilities, columns=self.action_names)
