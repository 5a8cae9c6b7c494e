"""A fitted bandit policy as an MLflow pyfunc model: context in, action probabilities out.

Served decisions carry their propensities (the probability of the action taken), so that they
can be evaluated off-policy later. The model is registered as ``<data set>-policy`` and served,
like the recommender, where the ``workbench`` package is installed.
"""

from __future__ import annotations

import logging

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import infer_signature

from workbench import serving
from workbench.bandits.base import BasePolicy

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


def log_policy(
    policy: BasePolicy,
    feature_names: list[str],
    action_names: list[str],
    registered_model_name: str | None = None,
    name: str = "policy",
):
    """Log the policy as a pyfunc model of the active run (and register it when named).

    Parameters
    ----------
    policy : BasePolicy
        Fitted.
    feature_names, action_names : list of str
    registered_model_name : str, optional
        ``<data set>-policy``; a new version is created.
    name : str
        The logged model's name.

    Returns
    -------
    mlflow.models.model.ModelInfo
        ``registered_model_version`` holds the new version when registered.
    """
    model = PolicyModel(policy, feature_names, action_names)
    example = pd.DataFrame(np.eye(len(feature_names))[:1], columns=feature_names)
    signature = infer_signature(example, model.predict(None, example))
    info = mlflow.pyfunc.log_model(
        name=name,
        python_model=model,
        pip_requirements=serving.pip_requirements(_REQUIREMENTS),
        signature=signature,
        input_example=example,
        registered_model_name=registered_model_name,
    )
    log.info(
        "logged %s as %s (version %s)",
        type(policy).__name__,
        info.model_uri,
        info.registered_model_version,
    )
    return info
