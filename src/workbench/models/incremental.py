"""Warm updates of a fitted recommender with new interactions: the feedback loop's model half.

A recommender fitted on yesterday's matrix meets today's: the same users and items plus new
ones, and new pairs. :func:`warm_update` carries the model into the new matrix's index space
(ids are matched by name, so the new matrix may order or extend them freely) and updates it:

- ``ALS``: ``implicit``'s partial fits recompute only the factors of the users and items whose
  rows changed (new ones included): users, then items, then users again, so new items'
  factors reach the users who met them. Untouched users and items keep their factors.
- every other family (EASE among them, whose closed form costs one item-item inverse): a full
  refit on the new matrix, which is cheap at catalogue sizes where EASE fits at all.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.utils import check_random_state
from threadpoolctl import threadpool_limits

from workbench.data.interactions import IdMap
from workbench.models.base import Recommender
from workbench.models.factorization import ALS


@dataclass(frozen=True)
class Update:
    """What a warm update changed.

    Attributes
    ----------
    method : str
        ``partial_fit`` (only changed rows recomputed) or ``refit``.
    users_added, items_added : int
        Ids in the new matrix the model had never seen.
    users_dropped, items_dropped : int
        Ids of the old matrix absent from the new one (their rows are dropped).
    pairs_appended : int
        Non-zero pairs of the new matrix that the old one did not have.
    users_updated, items_updated : int
        Rows and columns whose factors were recomputed (all of them for a refit).
    seconds : float
    """

    method: str
    users_added: int
    items_added: int
    users_dropped: int
    items_dropped: int
    pairs_appended: int
    users_updated: int
    items_updated: int
    seconds: float

    def as_dict(self) -> dict:
        return asdict(self)


def reindex(
    matrix: sp.csr_matrix, users: IdMap, items: IdMap, to_users: IdMap, to_items: IdMap
) -> sp.csr_matrix:
    """``matrix`` (rows ``users``, columns ``items``) in the index space of ``to_users`` x
    ``to_items``: shape (len(to_users), len(to_items)); pairs of unknown ids are dropped."""
    coo = sp.coo_matrix(matrix)
    rows = to_users.to_index(users.ids, missing=-1)[coo.row]
    cols = to_items.to_index(items.ids, missing=-1)[coo.col]
    keep = (rows >= 0) & (cols >= 0)
    shape = (len(to_users), len(to_items))
    return sp.csr_matrix((coo.data[keep], (rows[keep], cols[keep])), shape=shape)


def _carried(factors: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Rows of ``factors`` at ``positions`` (zeros where the position is -1)."""
    carried = np.zeros((len(positions), factors.shape[1]), dtype=factors.dtype)
    known = positions >= 0
    carried[known] = factors[positions[known]]
    return carried


def warm_update(
    model: Recommender,
    old_matrix: sp.csr_matrix,
    old_users: IdMap,
    old_items: IdMap,
    new_matrix: sp.csr_matrix,
    new_users: IdMap,
    new_items: IdMap,
) -> Update:
    """Update ``model`` (fitted on ``old_matrix``) in place so that it serves ``new_matrix``.

    Parameters
    ----------
    model : Recommender
        Fitted on ``old_matrix``; afterwards it scores rows and columns of ``new_matrix``.
    old_matrix : csr_matrix of shape (n_old_users, n_old_items)
    old_users, old_items : IdMap
        Its row and column ids.
    new_matrix : csr_matrix of shape (n_users, n_items)
    new_users, new_items : IdMap

    Returns
    -------
    Update
    """
    start = time.perf_counter()
    new_matrix = sp.csr_matrix(new_matrix)
    user_pos = old_users.to_index(new_users.ids, missing=-1)
    item_pos = old_items.to_index(new_items.ids, missing=-1)
    before = reindex(old_matrix, old_users, old_items, new_users, new_items)
    difference = abs(new_matrix - before).tocsr()
    difference.eliminate_zeros()
    changed_users = np.union1d(
        np.flatnonzero(np.diff(difference.indptr)), np.flatnonzero(user_pos < 0)
    )
    changed_items = np.union1d(np.unique(difference.indices), np.flatnonzero(item_pos < 0))
    appended = new_matrix.copy()
    appended.data[:] = 1.0
    known = before.copy()
    known.data[:] = 1.0
    pairs_appended = int((appended - appended.multiply(known)).sum())
    if isinstance(model, ALS):
        method = "partial_fit"
        _partial_fit_als(model, new_matrix, user_pos, item_pos, changed_users, changed_items)
        n_users_updated, n_items_updated = len(changed_users), len(changed_items)
    else:
        method = "refit"
        model.fit(new_matrix)
        n_users_updated, n_items_updated = new_matrix.shape
    return Update(
        method=method,
        users_added=int((user_pos < 0).sum()),
        items_added=int((item_pos < 0).sum()),
        users_dropped=len(old_users) - int((user_pos >= 0).sum()),
        items_dropped=len(old_items) - int((item_pos >= 0).sum()),
        pairs_appended=pairs_appended,
        users_updated=int(n_users_updated),
        items_updated=int(n_items_updated),
        seconds=time.perf_counter() - start,
    )


def _partial_fit_als(
    model: ALS,
    user_items: sp.csr_matrix,
    user_pos: np.ndarray,
    item_pos: np.ndarray,
    users: np.ndarray,
    items: np.ndarray,
) -> None:
    """``implicit``'s ``partial_fit_users`` / ``partial_fit_items`` on the changed rows."""
    seed = int(check_random_state(model.random_state).randint(np.iinfo(np.int32).max))
    with threadpool_limits(1, "blas"):
        inner = model._make(seed)
        inner.user_factors = _carried(np.asarray(model.user_factors_), user_pos)
        inner.item_factors = _carried(np.asarray(model.item_factors_), item_pos)
        item_users = user_items.T.tocsr()
        if len(users):
            inner.partial_fit_users(users, user_items[users])
        if len(items):
            inner.partial_fit_items(items, item_users[items])
        if len(users):
            inner.partial_fit_users(users, user_items[users])
    model.user_factors_ = np.asarray(inner.user_factors)
    model.item_factors_ = np.asarray(inner.item_factors)
    model.n_users_, model.n_items_ = user_items.shape
