"""Id maps and interaction matrices: external string ids <-> contiguous integer indices.

Models work on contiguous indices (the implicit convention); mapping external ids is the job
of this module, and the maps travel with the fitted model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp


@dataclass(frozen=True)
class IdMap:
    """A bijection between external ids and ``0..n-1``.

    Attributes
    ----------
    ids : ndarray of shape (n,)
        External ids in index order.
    """

    ids: np.ndarray

    @classmethod
    def from_values(cls, values) -> IdMap:
        """Build a map over the sorted unique values of ``values``."""
        return cls(np.asarray(pd.unique(pd.Series(values).astype(str)).tolist(), dtype=object))

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def _lookup(self) -> pd.Index:
        return pd.Index(self.ids)

    def to_index(self, values, missing: int | None = None) -> np.ndarray:
        """Indices of ``values``; unknown values raise ``KeyError`` unless ``missing`` is given."""
        index = self._lookup.get_indexer(pd.Series(values, dtype=object).astype(str))
        if missing is None and (index < 0).any():
            unknown = pd.Series(values)[index < 0].head(5).tolist()
            raise KeyError(f"unknown ids: {unknown}")
        if missing is not None:
            index = np.where(index < 0, missing, index)
        return index

    def to_ids(self, index) -> np.ndarray:
        """External ids at ``index`` (any shape)."""
        return self.ids[np.asarray(index)]


@dataclass(frozen=True)
class Interactions:
    """A users x items matrix with the maps that name its rows and columns.

    Attributes
    ----------
    user_items : csr_matrix of shape (n_users, n_items)
        Confidence of each user-item pair (summed event weights).
    users, items : IdMap
    """

    user_items: sp.csr_matrix
    users: IdMap
    items: IdMap

    @property
    def shape(self) -> tuple[int, int]:
        return self.user_items.shape


def build_interactions(
    events: pd.DataFrame,
    users: IdMap | None = None,
    items: IdMap | None = None,
    weight: str | None = None,
    binary: bool = True,
) -> Interactions:
    """Aggregate events into a CSR users x items matrix.

    Parameters
    ----------
    events : DataFrame
        At least ``user_id`` and ``item_id``; ``weight`` names an optional numeric column.
    users, items : IdMap, optional
        Fixed maps (for a test split that must share the training indices); events whose
        user or item is not in them are dropped. Built from ``events`` when omitted.
    weight : str, optional
        Column summed into each cell; each event counts 1 when omitted.
    binary : bool
        Clip every non-zero cell to 1.

    Returns
    -------
    Interactions
    """
    users = users or IdMap.from_values(np.sort(events["user_id"].astype(str).unique()))
    items = items or IdMap.from_values(np.sort(events["item_id"].astype(str).unique()))
    rows = users.to_index(events["user_id"], missing=-1)
    cols = items.to_index(events["item_id"], missing=-1)
    keep = (rows >= 0) & (cols >= 0)
    data = events[weight].to_numpy(float)[keep] if weight else np.ones(keep.sum())
    matrix = sp.csr_matrix(
        (data, (rows[keep], cols[keep])), shape=(len(users), len(items)), dtype=np.float32
    )
    matrix.sum_duplicates()
    if binary:
        matrix.data[:] = 1.0
    matrix.eliminate_zeros()
    return Interactions(matrix, users, items)
