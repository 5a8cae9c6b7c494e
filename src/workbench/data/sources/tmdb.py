"""TMDB 5000 enrichment of MovieLens items: overviews, taglines, keywords and genres.

MovieLens ``links.csv`` maps each ``movieId`` to a ``tmdbId``, which is the ``id`` of the TMDB
5000 table. ``enrich_items`` joins on it and appends the overview, tagline and keywords to the
item text and the TMDB genres to the categories. It is a pure function of DataFrames; reading
the files is the MovieLens source's job. Attribution: data from TMDb (themoviedb.org).
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)


def json_names(value) -> list[str]:
    """The ``name`` of each object in a TMDB JSON list column (``[]`` when missing or broken).

    >>> json_names('[{"id": 28, "name": "Action"}, {"id": 12, "name": "Adventure"}]')
    ['Action', 'Adventure']
    """
    if not isinstance(value, str) or not value.strip():
        return []
    try:
        entries = json.loads(value)
    except json.JSONDecodeError:
        return []
    return [str(e["name"]) for e in entries if isinstance(e, dict) and e.get("name")]


def tmdb_text(tmdb: pd.DataFrame) -> pd.DataFrame:
    """One row per TMDB movie: ``tmdb_id`` (int), ``tmdb_text`` and ``tmdb_genres`` (list).

    Parameters
    ----------
    tmdb : DataFrame
        ``tmdb_5000_movies.csv``: ``id``, ``overview``, ``tagline``, ``keywords``, ``genres``.
    """
    keywords = tmdb["keywords"].map(json_names).map(" ".join) if "keywords" in tmdb else ""
    text = (
        tmdb["overview"].fillna("").astype(str)
        + " "
        + tmdb["tagline"].fillna("").astype(str)
        + " "
        + keywords
    ).str.strip()
    return (
        pd.DataFrame(
            {
                "tmdb_id": pd.to_numeric(tmdb["id"], errors="coerce").astype("Int64"),
                "tmdb_text": text,
                "tmdb_genres": tmdb["genres"].map(json_names),
            }
        )
        .dropna(subset=["tmdb_id"])
        .drop_duplicates("tmdb_id")
    )


def enrich_items(items: pd.DataFrame, links: pd.DataFrame, tmdb: pd.DataFrame) -> pd.DataFrame:
    """MovieLens items with TMDB text appended and TMDB genres merged into the categories.

    Parameters
    ----------
    items : DataFrame
        Contract items whose ``item_id`` is the MovieLens ``movieId`` (as str).
    links : DataFrame
        ``links.csv``: ``movieId``, ``imdbId``, ``tmdbId``.
    tmdb : DataFrame
        ``tmdb_5000_movies.csv``.

    Returns
    -------
    DataFrame
        ``items`` (same rows, same order) with longer ``text`` and ``categories`` where a
        TMDB movie matched; other columns unchanged.
    """
    link = pd.DataFrame(
        {
            "item_id": links["movieId"].astype(str),
            "tmdb_id": pd.to_numeric(links["tmdbId"], errors="coerce").astype("Int64"),
        }
    ).dropna(subset=["tmdb_id"])
    joined = link.merge(tmdb_text(tmdb), on="tmdb_id", how="inner").drop_duplicates("item_id")
    extra = joined.set_index("item_id")
    matched = items["item_id"].astype(str).isin(extra.index)
    log.info("TMDB enrichment: %d of %d items matched", int(matched.sum()), len(items))
    enriched = items.copy()
    ids = enriched["item_id"].astype(str)
    added_text = ids.map(extra["tmdb_text"]).fillna("")
    enriched["text"] = (enriched["text"].fillna("").astype(str) + " " + added_text).str.strip()
    added_genres = ids.map(extra["tmdb_genres"])
    enriched["categories"] = [
        _merge_lists(own, more)
        for own, more in zip(enriched["categories"], added_genres, strict=True)
    ]
    return enriched


def _merge_lists(own, more) -> list[str]:
    """``own`` followed by the entries of ``more`` it lacks (either may be missing)."""
    merged = [str(v) for v in own] if isinstance(own, list | tuple | np.ndarray) else []
    if isinstance(more, list):
        merged += [value for value in more if value not in merged]
    return merged
