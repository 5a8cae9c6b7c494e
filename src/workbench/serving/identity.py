"""The service's door: the site's own (raw) user ids become the data set's pseudonyms.

A request names the user as the site knows them; the first thing the service does is replace
that id by the pseudonym ingestion gave the same user (:func:`workbench.data.privacy.
user_pseudonym` with the project's key, then the curated ``user_merges`` so that a merged
record resolves to the id it was merged into). From there on (consent, tags, personas,
candidates, the decision log, the profiles) only the pseudonym is used, so no raw id is written
anywhere and logged decisions join with the curated tables.
"""

from __future__ import annotations

from functools import lru_cache

import pandas as pd

from workbench.data.privacy import user_pseudonym


class Pseudonymizer:
    """``pseudonymizer(raw_id) -> pseudonym``, as curation computes it.

    Parameters
    ----------
    key : bytes
        The project's pseudonymization key (``workbench.config.pseudonym_key``): the one the
        curated data set was ingested with.
    merges : DataFrame, optional
        The curated ``user_merges`` (pseudonymized ``user_id`` and ``merged_into``).
    cache_size : int
        Pseudonyms kept in memory (computing one costs about a millisecond); the raw ids of
        the cache live in this process's memory only.
    """

    def __init__(self, key: bytes, merges: pd.DataFrame | None = None, cache_size: int = 65536):
        if not key:
            raise ValueError("a pseudonymization key is required to serve raw user ids")
        self._merged: dict[str, str] = {}
        if merges is not None and len(merges):
            pairs = zip(merges["user_id"], merges["merged_into"], strict=True)
            self._merged = {str(user): str(into) for user, into in pairs}
        self._key = key
        self._cached = lru_cache(maxsize=cache_size)(self._pseudonym)

    def _pseudonym(self, user_id: str) -> str:
        pseudo = user_pseudonym(user_id, self._key)
        return self._merged.get(pseudo, pseudo)

    def __call__(self, user_id: str) -> str:
        return self._cached(user_id)
