"""What each model family costs, as a function of users, items and interactions.

Estimates, not measurements: the order of growth of the largest arrays a fit holds at once
and of the arithmetic it does, with constants read off the implementations. They let tuning
skip a family that cannot fit in memory before it starts, and say why.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Users scored at once by ``evaluation.recommend_all`` (a dense block of scores).
SCORE_BATCH = 2048


@dataclass(frozen=True)
class Cost:
    """Peak memory and work of fitting a family once.

    Attributes
    ----------
    memory_bytes : float
        Largest working set of ``fit`` plus one scoring block.
    operations : float
        Floating-point operations (or sparse updates) of one fit, order of magnitude.
    formula : str
        The growth in words, for logs (``"8 x items^2 (dense Gram)"``).
    """

    memory_bytes: float
    operations: float
    formula: str


def _scores(n_users: int, n_items: int) -> float:
    return 4.0 * min(n_users, SCORE_BATCH) * n_items


def estimate(
    name: str, n_users: int, n_items: int, n_interactions: int, params: dict | None = None
) -> Cost:
    """Cost of fitting family ``name`` on an ``n_users x n_items`` matrix.

    Parameters
    ----------
    name : str
        A family of ``models.catalogue``.
    n_users, n_items, n_interactions : int
    params : dict, optional
        Hyperparameters (``factors``, ``iterations``...); the larger defaults otherwise.

    Returns
    -------
    Cost
    """
    params = params or {}
    scores = _scores(n_users, n_items)
    users, items, nnz = float(n_users), float(n_items), float(n_interactions)
    factors = float(params.get("factors", params.get("n_components", 128)))
    epochs = float(params.get("iterations", 100))
    if name == "ease":
        # Gram, its inverse and the float32 weights, all items x items and dense
        return Cost(20.0 * items**2 + scores, items**3 + nnz * nnz / max(users, 1.0),
                    "20 B x items^2 (dense Gram and inverse), items^3 time")  # fmt: skip
    if name in ("item_knn", "user_knn"):
        side = "items" if name == "item_knn" else "users"
        rows = items if name == "item_knn" else users
        neighbours = float(params.get("n_neighbors", 1000))
        memory = 4.0 * 1024 * rows + 12.0 * rows * min(neighbours, rows) + scores
        formula = f"4 B x 1024 x {side} similarity block, top-n neighbours kept"
        return Cost(memory, nnz * nnz / max(min(users, items), 1.0), formula)
    if name in ("als", "bpr", "bpr_implicit", "svd", "two_tower"):
        memory = 4.0 * (users + items) * (factors + 1) * 3 + 16.0 * nnz + scores
        per_epoch = nnz * factors + (users + items) * factors**2 * (name == "als")
        return Cost(memory, per_epoch * (1 if name == "svd" else epochs),
                    "(users + items) x factors, interactions x factors per epoch")  # fmt: skip
    # popularity, content, hybrid and anything new: linear in the data, one scoring block
    return Cost(16.0 * nnz + 8.0 * (users + items) + scores, nnz, "linear in interactions")


def fits(cost: Cost, memory_budget: float) -> tuple[bool, str]:
    """Whether ``cost`` fits ``memory_budget`` bytes, and the reason in words."""
    needed = cost.memory_bytes / 2**30
    budget = memory_budget / 2**30
    if cost.memory_bytes <= memory_budget:
        return True, f"needs {needed:.2f} GiB of {budget:.2f} GiB"
    return False, f"needs {needed:.2f} GiB > budget {budget:.2f} GiB ({cost.formula})"
