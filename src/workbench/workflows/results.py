"""What every recommender workflow returns: a tuned, refitted model with its figures.

Shared by the collaborative and content workflows: one result type, one way to record it in
its MLflow run (short run name, hyperparameters under their own names, one metric naming
scheme), one comparison table and one way to publish it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import mlflow
import numpy as np
import pandas as pd

from workbench import tracking
from workbench.data.splits import SplitMatrices
from workbench.evaluation.metrics import ndcg_per_user
from workbench.models.base import Recommender
from workbench.publish import Published, RecommenderService, publish
from workbench.publish.registry import Scorer

TABLE_COLUMNS = ["precision_at_{k}", "recall_at_{k}", "ndcg_at_{k}", "map", "map_at_{k}"]


@dataclass
class FamilyResult:
    """A family's tuned and refitted model with its figures.

    Attributes
    ----------
    name : str
    model : Recommender
        Refit on the whole training part.
    params : dict
        The chosen hyperparameters.
    valid_score : float
        Best validation nDCG@k of the study.
    metrics : dict
        Test metrics plus ``fit_seconds`` (and ``eval_seconds`` where measured).
    n_trials : int
    k : int
        Cut-off of the validation score.
    """

    name: str
    model: Recommender
    params: dict
    valid_score: float
    metrics: dict[str, float] = field(default_factory=dict)
    n_trials: int = 0
    k: int = 10

    @property
    def valid_metric(self) -> str:
        return f"valid_ndcg_at_{self.k}"


def tracked(name: str, stage: str, run: Callable[[], FamilyResult]) -> FamilyResult:
    """``run()`` inside a nested MLflow run named ``name`` (when a run is active).

    The run is tagged with the family and the stage, and records the chosen hyperparameters
    under their own names and the result's metrics (``valid_ndcg_at_<k>`` and the test ones);
    the study's trials nest below it.
    """
    tags = {"workbench.family": name, "workbench.stage": stage}
    with tracking.nested_run(name, tags) as active:
        result = run()
        if active is not None:
            mlflow.log_params(result.params)
            mlflow.log_metrics({**result.metrics, result.valid_metric: result.valid_score})
    return result


def comparison_table(results: list[FamilyResult], k: int = 10) -> pd.DataFrame:
    """One row per family, best test nDCG@k first.

    Returns
    -------
    DataFrame indexed by family
        Validation nDCG, every test metric, fit and evaluation seconds, trials.
    """
    rows = {
        result.name: {
            result.valid_metric: result.valid_score,
            **result.metrics,
            "n_trials": result.n_trials,
        }
        for result in results
    }
    table = pd.DataFrame.from_dict(rows, orient="index")
    return table.sort_values(f"ndcg_at_{k}", ascending=False)


def table_columns(k: int) -> list[str]:
    """The reference table's metric columns at cut-off ``k``."""
    return [column.format(k=k) for column in TABLE_COLUMNS]


def select_best(results: list[FamilyResult]) -> FamilyResult:
    """The family with the best validation score: the test split does not choose the model."""
    return max(results, key=lambda result: result.valid_score)


def ranking_scorer(matrices: SplitMatrices, k: int = 10) -> Scorer:
    """Per-user nDCG@k on the test split of a model that answers through ``predict``.

    Requests go through external ids (a registered version's own id maps and training
    matrix), so a champion trained elsewhere is scored on exactly the same users and items.

    Returns
    -------
    callable
        ``scorer(predict) -> ndarray of shape (n_test_users,)``.
    """
    users = np.flatnonzero(np.diff(matrices.test.indptr))
    request = pd.DataFrame({"user_id": matrices.users.ids[users].astype(str), "k": k})
    relevant = matrices.test[users]

    def scorer(predict) -> np.ndarray:
        lists = [list(ids)[:k] for ids in predict(request)["item_ids"]]
        lengths = np.array([len(ids) for ids in lists], dtype=np.int64)
        flat = np.asarray([item for ids in lists for item in ids], dtype=object)
        rows = np.repeat(np.arange(len(lists)), lengths)
        cols = np.arange(len(flat)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        recommended = np.full((len(lists), k), -1, dtype=np.int64)
        recommended[rows, cols] = matrices.items.to_index(flat, missing=-1)
        return ndcg_per_user(recommended, relevant, k)

    return scorer


def publish_result(
    result: FamilyResult,
    matrices: SplitMatrices,
    name: str,
    register: bool = True,
    promote: bool = True,
    margin: float = 0.0,
) -> Published:
    """Publish a result's model as a recommender pyfunc under ``name``.

    The registered copy must answer a few known users and one unknown user (popularity
    fallback) with the same lists as the model in memory. It becomes champion only if its
    per-user test nDCG@k beats the champion's on the same users (paired bootstrap interval
    above zero); ``promote=False`` (interactive runs) registers without touching aliases.
    """
    service = RecommenderService.from_fitted(
        result.model, matrices.train, matrices.users, matrices.items, result.k
    )
    request = pd.DataFrame({"user_id": [*matrices.users.ids[:4], "unknown-user"]})
    metric = f"ndcg_at_{result.k}"
    return publish(
        service, name, request, metric, result.metrics[metric], register=register,
        promote=promote, scorer=ranking_scorer(matrices, result.k), margin=margin,
    )  # fmt: skip
