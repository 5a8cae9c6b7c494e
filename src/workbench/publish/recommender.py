"""The personalizer as an MLflow pyfunc model: external user ids in, top-k item ids out.

The pyfunc carries the fitted recommender, the training matrix (to filter what each user has
already seen), the id maps and a popularity ranking that answers users the model has never
seen. It is served by MLflow's own scoring server (``mlflow models serve``) in an environment
where the ``workbench`` package is installed.

Input: a DataFrame with a ``user_id`` column and an optional integer ``k`` column (the
model's ``default_k`` when absent). Output: one row per input row with ``user_id``,
``item_ids`` (list of external item ids, best first, never an item the user has seen),
``scores`` (finite floats), ``fallback`` (whether the popularity ranking answered) and
``score_kind`` (``model``, or ``popularity_share`` for the fallback: each item's share of
training users, a scale of its own). ``k`` must be from 1 to the number of items and ids must
be non-blank strings; anything else is an ``INVALID_PARAMETER_VALUE`` error (HTTP 400 from
``mlflow models serve``) naming the column and value.

Erased users (``workbench data forget``) never get a personalized answer: the service reads
the erasure ledger (``data/curated/erasures.parquet``, pseudonyms only) before answering,
again whenever the file changes, and answers an erased user like an unknown one.
"""

from __future__ import annotations

import logging
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import scipy.sparse as sp
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, Schema

from workbench.data.interactions import IdMap
from workbench.models.base import Recommender, top_k
from workbench.publish.registry import pip_requirements

log = logging.getLogger(__name__)

REQUIREMENTS = ("mlflow", "numpy", "pandas", "scipy", "scikit-learn", "implicit", "optuna")


class RecommenderService(mlflow.pyfunc.PythonModel):
    """A fitted recommender behind external ids.

    Parameters
    ----------
    model : Recommender
        Fitted on ``user_items``.
    user_items : csr_matrix of shape (n_users, n_items)
        The training interactions, for filtering seen items.
    users, items : IdMap
        External ids of the rows and columns.
    popular_items : ndarray of shape (n_items,)
        Item indices by decreasing popularity: the answer to unknown users.
    popular_scores : ndarray of shape (n_items,)
    default_k : int
    """

    def __init__(
        self,
        model: Recommender,
        user_items: sp.csr_matrix,
        users: IdMap,
        items: IdMap,
        popular_items: np.ndarray,
        popular_scores: np.ndarray,
        default_k: int = 10,
    ):
        self.model = model
        self.user_items = user_items
        self.users = users
        self.items = items
        self.popular_items = popular_items
        self.popular_scores = popular_scores
        self.default_k = default_k
        self.erasure_ledger: str | None = None

    @classmethod
    def from_fitted(
        cls,
        model: Recommender,
        user_items: sp.csr_matrix,
        users: IdMap,
        items: IdMap,
        default_k: int = 10,
    ) -> RecommenderService:
        """Wrap ``model``; the fallback ranks items by their number of training users."""
        popularity = np.diff(sp.csc_matrix(user_items).indptr).astype(np.float64)
        order = np.argsort(-popularity, kind="stable")
        return cls(model, user_items, users, items, order, popularity[order], default_k)

    @property
    def n_items(self) -> int:
        return self.user_items.shape[1]

    def check_k(self, k) -> int:
        """``k`` as an int in ``1..n_items``; ``ValueError`` naming the value otherwise."""
        if isinstance(k, bool) or not isinstance(k, int | np.integer | float | np.floating):
            raise ValueError(f"k must be an integer from 1 to {self.n_items}, got {k!r}")
        if not np.isfinite(k) or k != int(k) or not 1 <= int(k) <= self.n_items:
            raise ValueError(f"k must be an integer from 1 to {self.n_items}, got {k!r}")
        return int(k)

    def popularity_share(self) -> np.ndarray:
        """Each item's share of training users, shape (n_items,): the fallback's scores."""
        share = np.zeros(self.n_items)
        share[self.popular_items] = self.popular_scores / max(self.user_items.shape[0], 1)
        return share

    def recommend(self, user_ids, k: int | None = None, exclude=None) -> pd.DataFrame:
        """Top-``k`` external item ids of each external user id, seen items never included.

        Parameters
        ----------
        user_ids : array-like of str of shape (n_requests,)
            Null, blank or non-string ids are an error.
        k : int, optional
            From 1 to ``n_items``; rows hold fewer items when fewer remain unseen.
        exclude : list of lists of str, optional
            Item ids never to return, per request row (unknown ids are ignored).

        Returns
        -------
        DataFrame with columns user_id, item_ids, scores, fallback, score_kind
            ``scores`` are finite; ``score_kind`` is ``model`` (the model's own scores) or
            ``popularity_share`` (share of training users, for unknown or erased users).
        """
        k = self.check_k(self.default_k if k is None else k)
        user_ids = check_user_ids(user_ids)
        index = self.users.to_index(user_ids, missing=-1)
        erased = self.erased_users()
        if erased:
            index[np.isin(user_ids, list(erased))] = -1  # never a personalized answer
        known = index >= 0
        scores = np.tile(self.popularity_share(), (len(index), 1))
        if known.any():
            scores[known] = self.model.score(index[known], self.user_items)
            seen = self.user_items[index[known]]
            rows = np.flatnonzero(known)[np.repeat(np.arange(known.sum()), np.diff(seen.indptr))]
            scores[rows, seen.indices] = -np.inf
        if exclude is not None:
            for row, ids in enumerate(exclude):
                excluded = self.items.to_index(list(ids or []), missing=-1)
                scores[row, excluded[excluded >= 0]] = -np.inf
        scores[~np.isfinite(scores)] = -np.inf
        items, top = top_k(scores, k)
        ids = self.items.to_ids(items)
        valid = np.isfinite(top)
        return pd.DataFrame(
            {
                "user_id": user_ids,
                "item_ids": [list(row[ok]) for row, ok in zip(ids, valid, strict=True)],
                "scores": [list(map(float, row[ok])) for row, ok in zip(top, valid, strict=True)],
                "fallback": ~known,
                "score_kind": np.where(known, "model", "popularity_share"),
            }
        )

    def _ledger_path(self) -> Path:
        ledger = getattr(self, "erasure_ledger", None)
        if ledger:
            return Path(ledger)
        from workbench.config import ProjectPaths
        from workbench.data.privacy import ERASURE_LEDGER

        return ProjectPaths.discover().curated / ERASURE_LEDGER

    def erased_users(self) -> frozenset[str]:
        """Pseudonyms in the erasure ledger, read again whenever the ledger changes."""
        from workbench.data.privacy import read_ledger

        path = self._ledger_path()
        stamp = path.stat().st_mtime_ns if path.is_file() else None
        cached = getattr(self, "_erased_cache", None)
        if cached is None or cached[0] != stamp:
            cached = (stamp, read_ledger(path) if stamp is not None else frozenset())
            self._erased_cache = cached
        return cached[1]

    def __getstate__(self) -> dict:
        """What pickling stores: never the cached pseudonyms of erased users (the ledger is
        read again, where the model is loaded)."""
        state = self.__dict__.copy()
        state.pop("_erased_cache", None)
        return state

    def answer(self, example: pd.DataFrame) -> pd.DataFrame:
        """The in-memory answer to a request DataFrame (what the registered copy must give)."""
        return self.predict(None, example)

    def log(self, registered_model_name: str | None = None, example: pd.DataFrame | None = None):
        """Log to the active run as ``recommender`` (registered when a name is given).

        Returns
        -------
        mlflow.models.model.ModelInfo
        """
        if example is None:
            example = pd.DataFrame({"user_id": self.users.ids[:2].astype(str)})
        self.erasure_ledger = str(self._ledger_path())
        self._erased_cache = None
        inferred = mlflow.models.infer_signature(example, self.answer(example))
        inputs = Schema([ColSpec("string", "user_id"), ColSpec("long", "k", required=False)])
        return mlflow.pyfunc.log_model(
            name="recommender",
            python_model=self,
            pip_requirements=pip_requirements(REQUIREMENTS),
            signature=ModelSignature(inputs=inputs, outputs=inferred.outputs),
            input_example=example,
            registered_model_name=registered_model_name,
        )

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None):
        """Answer a request DataFrame (``user_id``, optional ``k``), row order kept.

        Raises
        ------
        MlflowException
            ``INVALID_PARAMETER_VALUE`` naming the column and value: no ``user_id`` column,
            a null or blank id, a ``k`` that is not an integer from 1 to the number of items.
        """
        try:
            return self._predict(model_input)
        except ValueError as error:
            raise MlflowException.invalid_parameter_value(str(error)) from error

    def _predict(self, model_input: pd.DataFrame) -> pd.DataFrame:
        if "user_id" not in model_input.columns:
            raise ValueError(f"input needs a user_id column, got {list(model_input.columns)}")
        if "k" not in model_input.columns:
            return self.recommend(model_input["user_id"].to_numpy())
        ks = [self.check_k(k) for k in model_input["k"].fillna(self.default_k).tolist()]
        answer = self.recommend(model_input["user_id"].to_numpy(), k=max(ks, default=1))
        answer["item_ids"] = [ids[:n] for ids, n in zip(answer["item_ids"], ks, strict=True)]
        answer["scores"] = [s[:n] for s, n in zip(answer["scores"], ks, strict=True)]
        return answer


def check_user_ids(user_ids) -> np.ndarray:
    """``user_ids`` as an object array of non-blank strings (integers are taken as strings).

    Raises
    ------
    ValueError
        Naming the first null, blank or non-string id and its row.
    """
    values = np.asarray(pd.Series(user_ids, dtype=object).to_numpy(), dtype=object)
    for row, value in enumerate(values):
        if isinstance(value, bool) or not isinstance(value, str | int | np.integer):
            raise ValueError(f"user_id must be a non-blank string, got {value!r} in row {row}")
        if isinstance(value, str) and not value.strip():
            raise ValueError(f"user_id must be a non-blank string, got {value!r} in row {row}")
    return values.astype(str).astype(object)
