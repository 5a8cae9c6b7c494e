"""Category (genre) affinities per user from the categories of the items they touched."""

from __future__ import annotations

import logging

import pandas as pd

from workbench.features.context import slug

log = logging.getLogger(__name__)

#: How much one event of each type says about taste; views say least, purchases most.
EVENT_WEIGHTS = {
    "view": 1.0,
    "click": 1.0,
    "rating": 1.0,
    "add_to_cart": 2.0,
    "purchase": 3.0,
    "return": 0.0,
}


def category_affinity(
    events: pd.DataFrame,
    items: pd.DataFrame,
    max_categories: int = 30,
    weights: dict[str, float] | None = None,
) -> pd.DataFrame:
    """Each user's weighted share of interactions per item category.

    An event on an item with several categories counts for each of them; shares sum to 1 per
    user over the kept categories. Only the ``max_categories`` most frequent categories are
    kept (the rest would be sparse columns nobody reads).

    Parameters
    ----------
    events : DataFrame of shape (n_events, >=3)
        Contract ``events`` (``user_id``, ``item_id``, ``event_type``).
    items : DataFrame of shape (n_items, >=2)
        Contract ``items`` with ``categories`` lists.
    max_categories : int
    weights : dict of str to float, optional
        Weight of one event per type; ``EVENT_WEIGHTS`` by default, unknown types weigh 1.

    Returns
    -------
    DataFrame of shape (n_users, n_kept_categories), indexed by ``user_id``
        Columns ``affinity_<slug(category)>``; empty (no columns) when items carry no
        categories.
    """
    weights = EVENT_WEIGHTS if weights is None else weights
    exploded = items[["item_id", "categories"]].explode("categories").dropna()
    exploded = exploded.assign(category=exploded["categories"].map(slug))
    top = exploded["category"].value_counts().head(max_categories).index
    exploded = exploded[exploded["category"].isin(top)]
    weighted = events[["user_id", "item_id", "event_type"]].assign(
        weight=events["event_type"].map(weights).fillna(1.0)
    )
    joined = weighted.merge(exploded[["item_id", "category"]], on="item_id", how="inner")
    totals = joined.pivot_table(
        index="user_id", columns="category", values="weight", aggfunc="sum", fill_value=0.0
    )
    totals = totals.loc[totals.sum(axis=1) > 0]
    shares = totals.div(totals.sum(axis=1), axis=0).astype(float)
    shares.columns = [f"affinity_{column}" for column in shares.columns]
    shares.columns.name = None
    shares.index.name = "user_id"
    log.info("affinity: %d users x %d categories", *shares.shape)
    return shares
