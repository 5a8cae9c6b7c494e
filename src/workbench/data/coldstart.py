"""Cold-start evaluation: withhold whole items from training, score the sparsely known ones.

``cold_start_split`` sends every event of a random set of items to the test part (those
items are new to any model trained on the rest) and splits the remaining events with any
ordinary splitter. ``restrict_to_items`` then keeps, of a test matrix, only the interactions
with items that had fewer than ``N`` training interactions (``sparse_items``), so metrics on
it measure how well a model ranks what behaviour alone knows little about.

``prepare_cold_start`` builds the matrices of a whole cold-start experiment: an outer split,
and a validation split carved the same way from its training part (:class:`ColdStartData`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from workbench.data.interactions import IdMap, build_interactions
from workbench.data.splits import SplitMatrices, stratified_split

log = logging.getLogger(__name__)

Splitter = Callable[[pd.DataFrame], tuple[pd.DataFrame, pd.DataFrame]]


def _bernoulli_split(
    events: pd.DataFrame, test_fraction: float = 0.25, seed: int = 42
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each event to test with probability ``test_fraction`` (a plain split for warm items)."""
    rng = np.random.default_rng(seed)
    to_test = rng.random(len(events)) < test_fraction
    return events[~to_test], events[to_test]


def cold_start_split(
    events: pd.DataFrame,
    cold_item_fraction: float = 0.1,
    seed: int = 42,
    warm_split: Splitter | None = None,
    item_column: str = "item_id",
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Withhold a random share of items from training entirely; split the rest normally.

    Parameters
    ----------
    events : DataFrame
        One row per interaction with at least ``item_column``.
    cold_item_fraction : float in (0, 1)
        Share of the distinct items whose every event goes to test.
    seed : int
        Chooses the cold items (and seeds the default warm split).
    warm_split : callable, optional
        ``warm_split(events) -> (train, test)`` for the other items, for instance the
        per-item stratified split of ``workbench.data.splits``; each event to test with
        probability 0.25 (same seed) when omitted.
    item_column : str

    Returns
    -------
    train, test : DataFrame
        A partition of ``events``; no item of ``cold_items`` is in ``train``.
    cold_items : ndarray of str
        The withheld item ids, sorted.
    """
    if not 0.0 < cold_item_fraction < 1.0:
        raise ValueError(f"cold_item_fraction must be in (0, 1), got {cold_item_fraction}")
    items = np.sort(events[item_column].astype(str).unique())
    rng = np.random.default_rng(seed)
    n_cold = max(1, round(cold_item_fraction * len(items)))
    cold_items = np.sort(rng.choice(items, size=n_cold, replace=False))
    is_cold = events[item_column].astype(str).isin(cold_items).to_numpy()
    split = warm_split or (lambda frame: _bernoulli_split(frame, seed=seed))
    train, warm_test = split(events[~is_cold])
    test = pd.concat([warm_test, events[is_cold]]).sort_index()
    log.info(
        "cold-start split: %d cold items of %d, %d train / %d test events",
        n_cold,
        len(items),
        len(train),
        len(test),
    )
    return train, test, cold_items


def sparse_items(train_user_items: sp.spmatrix, max_interactions: int) -> np.ndarray:
    """Mask of items with fewer than ``max_interactions`` training interactions.

    Parameters
    ----------
    train_user_items : sparse matrix of shape (n_users, n_items)
    max_interactions : int
        ``N``: an item with ``N`` or more training interactions is not sparse.

    Returns
    -------
    ndarray of bool, shape (n_items,)
    """
    counts = np.diff(sp.csc_matrix(train_user_items).indptr)
    return counts < max_interactions


def restrict_to_items(user_items: sp.spmatrix, item_mask: np.ndarray) -> sp.csr_matrix:
    """``user_items`` with every column outside ``item_mask`` emptied (shape unchanged).

    Parameters
    ----------
    user_items : sparse matrix of shape (n_users, n_items)
    item_mask : ndarray of bool, shape (n_items,)

    Returns
    -------
    csr_matrix of shape (n_users, n_items)
    """
    item_mask = np.asarray(item_mask, dtype=bool)
    if item_mask.shape != (user_items.shape[1],):
        raise ValueError(
            f"item_mask has shape {item_mask.shape}, expected ({user_items.shape[1]},)"
        )
    restricted = sp.csr_matrix(user_items) @ sp.diags(item_mask.astype(np.float32))
    restricted = sp.csr_matrix(restricted, dtype=np.float32)
    restricted.eliminate_zeros()
    return restricted


@dataclass(frozen=True)
class ColdStartData:
    """Matrices of a cold-start experiment and the item masks that define its subsets.

    Attributes
    ----------
    matrices : SplitMatrices
        ``train``/``test`` and ``fit``/``valid`` (a partition of ``train``), confidences.
    withheld : ndarray of bool, shape (n_items,)
        Items withheld from ``train`` (all their pairs are in ``test``).
    sparse_test, sparse_valid : ndarray of bool, shape (n_items,)
        Items with fewer than ``max_interactions`` pairs in ``train`` (resp. ``fit``).
    """

    matrices: SplitMatrices
    withheld: np.ndarray
    sparse_test: np.ndarray
    sparse_valid: np.ndarray


def _split(pairs: pd.DataFrame, fraction: float, ratio: float, seed: int):
    def warm(frame):
        return stratified_split(frame, ratio, seed=seed)

    return cold_start_split(pairs, fraction, seed=seed, warm_split=warm)


def prepare_cold_start(
    pairs: pd.DataFrame,
    cold_item_fraction: float = 0.1,
    ratio: float = 0.75,
    max_interactions: int = 5,
    seed: int = 42,
) -> ColdStartData:
    """Outer cold-start split, then a validation split of the training part made the same way.

    Parameters
    ----------
    pairs : DataFrame
        ``weighted_pairs`` (or any pairs with a ``weight`` column).
    cold_item_fraction : float
        Share of items withheld from training (outer split), and from fitting (validation).
    ratio : float
        Per-item training share of the other items' pairs (both splits).
    max_interactions : int
        ``N``: an item with fewer training pairs is in the cold-start subset.
    seed : int
        Outer split; the validation split uses ``seed + 1``.
    """
    train, test, withheld = _split(pairs, cold_item_fraction, ratio, seed)
    fit, valid, _ = _split(train, cold_item_fraction, ratio, seed + 1)
    users = IdMap.from_values(pairs["user_id"])  # first appearance, not pseudonym order
    items = IdMap.from_values(np.sort(pairs["item_id"].astype(str).unique()))
    parts = {"train": train, "test": test, "fit": fit, "valid": valid}
    matrices = {
        name: build_interactions(part, users, items, weight="weight", binary=False).user_items
        for name, part in parts.items()
    }
    data = SplitMatrices(users=users, items=items, **matrices)
    log.info("cold-start split: %s", {name: len(part) for name, part in parts.items()})
    return ColdStartData(
        matrices=data,
        withheld=np.isin(items.ids, withheld),
        sparse_test=sparse_items(data.train, max_interactions),
        sparse_valid=sparse_items(data.fit, max_interactions),
    )


def split_summary(data: ColdStartData) -> pd.Series:
    """Pairs per part, withheld items and the size of the cold-start test subset."""
    m = data.matrices
    cold_test = restrict_to_items(m.test, data.sparse_test)
    return pd.Series(
        {
            "train pairs": m.train.nnz,
            "test pairs": m.test.nnz,
            "fit pairs": m.fit.nnz,
            "valid pairs": m.valid.nnz,
            "withheld items": int(data.withheld.sum()),
            "cold-start items (< N train pairs)": int(data.sparse_test.sum()),
            "cold-start test pairs": cold_test.nnz,
        }
    )
