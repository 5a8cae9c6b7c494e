"""Tables that explain a content model: similar items with the terms they share."""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.data.coldstart import ColdStartData
from workbench.data.interactions import IdMap
from workbench.models.content import ContentRecommender


def similar_items_table(
    model: ContentRecommender,
    items: pd.DataFrame,
    item_index: IdMap,
    examples: list[int],
    k: int = 5,
    n_terms: int = 5,
) -> pd.DataFrame:
    """Similar-items lists of ``examples`` (item indices) with titles and matching terms.

    Returns
    -------
    DataFrame with columns item, similar_item, score, matching_terms
    """
    titles = items.set_index(items["item_id"].astype(str))["title"]
    frames = []
    for item_idx in examples:
        table = model.explain_similar(int(item_idx), k=k, n_terms=n_terms)
        frames.append(
            pd.DataFrame(
                {
                    "item": titles.get(item_index.ids[item_idx], item_index.ids[item_idx]),
                    "similar_item": titles.reindex(item_index.to_ids(table["item_idx"])).to_numpy(),
                    "score": table["score"].round(3).to_numpy(),
                    "matching_terms": table["terms"].map(", ".join).to_numpy(),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def example_items(data: ColdStartData, n: int, seed: int = 42) -> list[int]:
    """``n`` item indices to show similar items for: withheld items first, then popular ones."""
    withheld = np.flatnonzero(data.withheld)
    popular = np.argsort(-np.diff(data.matrices.train.tocsc().indptr), kind="stable")
    rng = np.random.default_rng(seed)
    chosen = list(rng.permutation(withheld)[: (n + 1) // 2]) + list(popular[: n // 2])
    return [int(i) for i in chosen[:n]]
