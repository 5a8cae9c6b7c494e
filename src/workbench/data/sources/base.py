"""What a source is: its name, how it loads, and what curation must know about its data."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from workbench.data.quality import Verdicts

Loader = Callable[..., dict[str, pd.DataFrame]]


@dataclass(frozen=True)
class CurationRules:
    """Curation steps that belong to one source's data, run because the source declares them.

    Attributes
    ----------
    prepare_events : callable
        ``prepare_events(events, verdicts) -> events``: runs on the typed events (a DataFrame
        of shape (n_events, n_columns)) before the generic checks; may add columns and flag
        rows in ``verdicts``.
    raw_counts : callable, optional
        ``raw_counts(raw_events) -> dict of str to int``: figures of the raw events, added to
        ``Curation.counts``.
    """

    prepare_events: Callable[[pd.DataFrame, Verdicts], pd.DataFrame]
    raw_counts: Callable[[pd.DataFrame], dict[str, int]] | None = None


@dataclass(frozen=True)
class Source:
    """One data source, declared once by its module and listed in the catalogue.

    Attributes
    ----------
    name : str
        The name configurations use (``data.source``).
    load : callable
        ``load(raw_dir, mirror, **options) -> dict of str to DataFrame``: raw contract tables
        (``events`` and optionally ``users``, ``items``, ``consent``).
    timezone : str
        IANA zone of the source's naive timestamps.
    curation : CurationRules, optional
        Curation steps of this source only (the retail invoice rules); None when it has none.
    published : callable, optional
        ``published(curation) -> DataFrame``: the figures the publisher states about the data
        beside the ones measured by a curation (``retail.published_figures``); None when the
        publisher states none.
    """

    name: str
    load: Loader
    timezone: str = "UTC"
    curation: CurationRules | None = None
    published: Callable[..., pd.DataFrame] | None = None
