"""Alternating least squares on ``pyspark.ml``, as a workbench recommender.

:class:`SparkALS` follows the recommender contract (``fit(user_items)`` on a users x items CSR
matrix, ``recommend``, ``similar_items``), so the project's own metrics score it exactly as
they score ``implicit``'s ALS: the model is fitted by Spark, its factors come back to the
driver, and ranking, filtering of seen items and metrics are the project's.

Differences from ``implicit``'s ALS at equal settings: Spark scales ``regParam`` by each user's
and item's number of ratings (ALS-WR), and draws its initial factors differently.
"""

from __future__ import annotations

import tempfile

import numpy as np
import scipy.sparse as sp
from sklearn.utils import check_random_state

from workbench.engines.spark_session import DEFAULT_MASTER, session
from workbench.models.base import Recommender


def interactions_frame(spark, user_items: sp.csr_matrix):
    """A Spark DataFrame ``(user, item, rating)`` of the non-zero entries of ``user_items``."""
    coo = user_items.tocoo()
    import pandas as pd

    frame = pd.DataFrame({"user": coo.row.astype(np.int32), "item": coo.col.astype(np.int32),
                          "rating": coo.data.astype(np.float32)})  # fmt: skip
    return spark.createDataFrame(frame)


def ensure_checkpoint_dir(spark) -> None:
    """A local checkpoint directory for a local session that has none.

    ALS checkpoints its factors every ``checkpointInterval`` (10) iterations only when the
    session has a checkpoint directory; without one the lineage grows with each iteration and
    overflows the JVM stack after about 20. A cluster sets ``spark.checkpoint.dir`` to shared
    storage itself.
    """
    context = spark.sparkContext
    if context.getCheckpointDir() is None and context.master.startswith("local"):
        context.setCheckpointDir(tempfile.mkdtemp(prefix="workbench-als-checkpoints-"))


def factors_array(frame, n_rows: int, rank: int) -> np.ndarray:
    """``ndarray of shape (n_rows, rank)`` from a Spark factors frame ``(id, features)``
    (rows without factors, never seen in training, stay zero)."""
    rows = frame.toPandas()
    out = np.zeros((n_rows, rank), dtype=np.float32)
    if len(rows):
        out[rows["id"].to_numpy()] = np.vstack(rows["features"].to_numpy())
    return out


class SparkALS(Recommender):
    """Implicit-feedback ALS fitted by ``pyspark.ml.recommendation.ALS``.

    Parameters
    ----------
    factors : int
    regularization : float
        Spark's ``regParam`` (scaled by counts: ALS-WR).
    alpha : float
        Confidence ``1 + alpha * r_ui``.
    iterations : int
    master : str
        Spark master URL (``local[*]``, ``spark://host:7077``).
    random_state : int, RandomState or None

    Attributes
    ----------
    user_factors_ : ndarray of shape (n_users, factors)
    item_factors_ : ndarray of shape (n_items, factors)
    """

    iterative = False

    def __init__(
        self,
        factors: int = 64,
        regularization: float = 0.05,
        alpha: float = 10.0,
        iterations: int = 15,
        master: str = DEFAULT_MASTER,
        random_state=None,
    ):
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.master = master
        self.random_state = random_state

    def _fit(self, user_items, item_features, user_features, callback) -> None:
        from pyspark.ml.recommendation import ALS

        seed = int(check_random_state(self.random_state).randint(2**31 - 1))
        spark = session(self.master)
        ensure_checkpoint_dir(spark)
        ratings = interactions_frame(spark, user_items)
        estimator = ALS(
            rank=self.factors, maxIter=self.iterations, regParam=self.regularization,
            alpha=self.alpha, implicitPrefs=True, userCol="user", itemCol="item",
            ratingCol="rating", seed=seed, nonnegative=False, coldStartStrategy="nan",
        )  # fmt: skip
        model = estimator.fit(ratings)
        self.user_factors_ = factors_array(model.userFactors, user_items.shape[0], self.factors)
        self.item_factors_ = factors_array(model.itemFactors, user_items.shape[1], self.factors)

    def _score(self, user_idx: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        return self.user_factors_[user_idx] @ self.item_factors_.T

    def _item_vectors(self) -> np.ndarray:
        return self.item_factors_


def compare_with_implicit(
    train: sp.csr_matrix,
    test: sp.csr_matrix,
    k: int = 10,
    seed: int = 42,
    master: str = DEFAULT_MASTER,
    **params,
) -> dict[str, dict[str, float]]:
    """``implicit``'s ALS and :class:`SparkALS` at equal settings, scored by the same metric.

    Parameters
    ----------
    train, test : csr_matrix of shape (n_users, n_items)
    k : int
    seed : int
    master : str
    **params
        ``factors``, ``regularization``, ``alpha``, ``iterations``.

    Returns
    -------
    dict
        ``{"implicit": {...}, "spark": {...}}``, each with ``ndcg_at_<k>`` and ``fit_seconds``.
    """
    import time

    from workbench.evaluation import metrics, recommend_all
    from workbench.models.factorization import ALS

    models = {
        "implicit": ALS(**params, random_state=seed),
        "spark": SparkALS(**params, master=master, random_state=seed),
    }
    results = {}
    for name, model in models.items():
        started = time.perf_counter()
        model.fit(train)
        seconds = time.perf_counter() - started
        ndcg = metrics.ndcg_at_k(recommend_all(model, train, k), test)
        results[name] = {f"ndcg_at_{k}": float(ndcg), "fit_seconds": seconds}
    return results
