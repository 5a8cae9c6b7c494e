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

from workbench.bandits.base import BasePolicy
from workbench.publish.registry import log_answering_model

log = logging.getLogger(__name__)

_REQUIREMENTS = ("mlflow", "numpy", "pandas", "scikit-learn")


class PolicyModel(mlflow.pyfunc.PythonModel):
    """Pyfunc wrapper of a fitted policy, stochastic with every propensity above a floor.

    The served distribution is ``(1 - n_actions * min_propensity) * p + min_propensity``,
    where ``p`` is the policy's own (a greedy LinUCB gives 0 or 1): every arm keeps a
    probability of at least ``min_propensity``, so logged decisions support off-policy
    evaluation of any other policy.

    Parameters
    ----------
    policy : BasePolicy
        Fitted; a copy is pickled with the model.
    feature_names : list of str
        Context columns the model reads (ignored by context-free policies; missing columns are
        an error, extra ones are ignored). One-hot cells are named ``cell=<name>``.
    action_names : list of str
        Output columns, one per arm.
    min_propensity : float
        The floor of every arm's probability, in ``[0, 1 / n_actions)``.
    user_cells : dict of str to str, optional
        Each known user's cell, so that requests may name a ``user_id`` instead of the context
        (unknown users get the uniform distribution).

    Requests carry the context as the feature columns, or as a ``cell`` column naming the cell,
    or as a ``user_id`` column (with ``user_cells``).
    """

    def __init__(
        self,
        policy: BasePolicy,
        feature_names: list[str],
        action_names: list[str],
        min_propensity: float = 0.01,
        user_cells: dict[str, str] | None = None,
    ):
        if not 0.0 <= min_propensity < 1.0 / len(action_names):
            raise ValueError(
                f"min_propensity must be in [0, 1/{len(action_names)}), got {min_propensity}"
            )
        self.policy = policy
        self.feature_names = list(feature_names)
        self.action_names = list(action_names)
        self.min_propensity = float(min_propensity)
        self.user_cells = dict(user_cells or {})

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
        return log_answering_model(self, "policy", _REQUIREMENTS, example, 1, registered_model_name)

    def contexts(self, frame: pd.DataFrame) -> np.ndarray:
        """Context vectors of the request rows, shape (n_rows, n_features); NaN rows unknown.

        Raises
        ------
        ValueError
            Naming missing columns or an unknown cell.
        """
        if all(name in frame.columns for name in self.feature_names):
            return frame[self.feature_names].to_numpy(dtype=float)
        cells = [name.removeprefix("cell=") for name in self.feature_names]
        if "cell" in frame.columns:
            names = frame["cell"].astype(str)
            unknown = sorted(set(names) - set(cells))
            if unknown:
                raise ValueError(f"unknown cell {unknown[0]!r}; cells are {cells}")
        elif "user_id" in frame.columns and self.user_cells:
            names = frame["user_id"].astype(str).map(self.user_cells)
        else:
            missing = [name for name in self.feature_names if name not in frame.columns]
            raise ValueError(f"context columns missing: {missing} (or give cell or user_id)")
        index = pd.Index(cells).get_indexer(names)
        contexts = np.eye(len(cells))[index]
        contexts[index < 0] = np.nan
        return contexts

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        """Action probabilities, one row per input row and one column per arm.

        Every probability is at least ``min_propensity``; rows sum to one.
        """
        frame = pd.DataFrame(model_input)
        n_actions = len(self.action_names)
        if self.policy.contextual:
            contexts = self.contexts(frame)
            known = ~np.isnan(contexts).any(axis=1)
            probabilities = np.full((len(frame), n_actions), 1.0 / n_actions)
            if known.any():
                probabilities[known] = self.policy.predict_proba(contexts[known])
        else:
            probabilities = self.policy.predict_proba(np.zeros((len(frame), 1)))
        floor = getattr(self, "min_propensity", 0.0)
        probabilities = (1.0 - n_actions * floor) * probabilities + floor
        return pd.DataFrame(probabilities, columns=self.action_names)
