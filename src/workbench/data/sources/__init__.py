"""Sources: each loads one kind of data into the contract tables (one module, one job).

A source returns a ``dict`` of contract tables (``events``, ``users``, ``items``, ``consent``)
with the contract's columns; curation (types, quarantine, deduplication, consent,
pseudonymization) happens after, the same for every source.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

Loader = Callable[..., dict[str, pd.DataFrame]]


def get_loader(source: str) -> Loader:
    """The ``load(raw_dir, mirror, **options)`` function of ``source``."""
    from workbench.data.sources import files, movielens, online_retail, synthetic

    loaders: dict[str, Loader] = {
        "synthetic": synthetic.load,
        "movielens-100k": movielens.load_100k,
        "movielens-latest-small": movielens.load_latest_small,
        "online-retail": online_retail.load,
        "files": files.load,
    }
    if source not in loaders:
        raise ValueError(f"unknown source {source!r}; known: {sorted(loaders)}")
    return loaders[source]


def load_source(
    source: str, raw_dir: Path, mirror: Path | None = None, **options
) -> dict[str, pd.DataFrame]:
    """Load ``source`` into contract tables."""
    return get_loader(source)(raw_dir=Path(raw_dir), mirror=mirror, **options)
