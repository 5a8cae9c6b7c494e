"""Sources: each loads one kind of data into the contract tables (one module, one job).

A source returns a ``dict`` of contract tables (``events``, ``users``, ``items``, ``consent``)
with the contract's columns; curation (types, quarantine, deduplication, consent,
pseudonymization) happens after, the same for every source, plus the ``CurationRules`` a
source declares for its own data.

Adding a source takes two edits:

1. a module here that reads the data and declares it once, at its end::

       SOURCE = Source("my-shop", load, timezone="Europe/Paris")

2. one line in ``CATALOGUE`` below.

The configuration's allowed ``data.source`` names (``workbench.config.SOURCES``), ``load_source``
and ``ingest.default_settings`` (time zone and curation rules) all read the catalogue.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from workbench.data.sources import files, movielens, online_retail, synthetic
from workbench.data.sources.base import CurationRules, Loader, Source

__all__ = [
    "CATALOGUE",
    "CurationRules",
    "Loader",
    "Source",
    "get_loader",
    "get_source",
    "load_source",
    "source_names",
]

#: Every source, one line per module, in the order configurations list them.
CATALOGUE: tuple[Source, ...] = (
    synthetic.SOURCE,
    *movielens.SOURCES,
    online_retail.SOURCE,
    files.SOURCE,
)


def source_names() -> tuple[str, ...]:
    """The names of the catalogued sources, in catalogue order."""
    return tuple(source.name for source in CATALOGUE)


def get_source(name: str) -> Source:
    """The catalogue entry of source ``name``.

    Raises
    ------
    ValueError
        When no source has that name.
    """
    for source in CATALOGUE:
        if source.name == name:
            return source
    raise ValueError(f"unknown source {name!r}; known: {sorted(source_names())}")


def get_loader(name: str) -> Loader:
    """The ``load(raw_dir, mirror, **options)`` function of source ``name``."""
    return get_source(name).load


def load_source(
    source: str, raw_dir: Path, mirror: Path | None = None, **options
) -> dict[str, pd.DataFrame]:
    """Load ``source`` into raw contract tables."""
    return get_loader(source)(raw_dir=Path(raw_dir), mirror=mirror, **options)
