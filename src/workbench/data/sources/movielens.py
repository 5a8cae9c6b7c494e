"""MovieLens 100K and latest-small, read from the publisher's files into the contract.

Ratings become ``rating`` events whose ``value`` is the rating. Genres become item
categories. Latest-small can be enriched with TMDB overviews as item text.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from workbench.data.catalog import dataset_file
from workbench.data.sources._common import epoch_to_utc, implied_consent
from workbench.data.sources.base import Source
from workbench.data.sources.files import read_file

GENRES_100K = (
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)


def _rating_events(ratings: pd.DataFrame) -> pd.DataFrame:
    """Raw contract events from a text frame of user_id, item_id, rating, epoch ``timestamp``.

    Values stay text, as published: curation parses ratings and epoch seconds, and
    quarantines what does not parse.
    """
    events = pd.DataFrame(
        {
            "event_id": "r" + pd.Series(range(len(ratings)), dtype=str),
            "user_id": ratings["user_id"].to_numpy(),
            "item_id": ratings["item_id"].to_numpy(),
            "event_type": "rating",
            "value": ratings["rating"].to_numpy(),
            "timestamp": ratings["timestamp"].to_numpy(),
        }
    )
    events.attrs = dict(ratings.attrs)
    return events


def _consent(events: pd.DataFrame) -> pd.DataFrame:
    """Implied consent dated at each user's first (parseable) rating."""
    seconds = pd.to_numeric(events["timestamp"], errors="coerce")
    dated = pd.DataFrame({"user_id": events["user_id"], "timestamp": seconds}).dropna()
    return implied_consent(dated.assign(timestamp=epoch_to_utc(dated["timestamp"])))


def load_100k(raw_dir: Path, mirror: Path | None = None) -> dict[str, pd.DataFrame]:
    """MovieLens 100K: 100,000 ratings by 943 users on 1,682 movies, with demographics."""

    def path(name: str) -> Path:
        return dataset_file("ml-100k", name, raw_dir, mirror)

    ratings = pd.read_csv(
        path("u.data"),
        sep="\t",
        names=["user_id", "item_id", "rating", "timestamp"],
        dtype={"user_id": str, "item_id": str},
    )
    users = pd.read_csv(
        path("u.user"),
        sep="|",
        names=["user_id", "age", "gender", "occupation", "zip"],
        dtype={"user_id": str, "zip": str},
    )
    movies = pd.read_csv(
        path("u.item"),
        sep="|",
        encoding="latin-1",
        header=None,
        names=["item_id", "title", "release_date", "video_release", "url", *GENRES_100K],
        dtype={"item_id": str},
    )
    flags = movies[list(GENRES_100K)].to_numpy(bool)
    items = pd.DataFrame(
        {
            "item_id": movies["item_id"],
            "title": movies["title"],
            "text": movies["title"],
            "categories": [
                [g for g, on in zip(GENRES_100K, row, strict=True) if on] for row in flags
            ],
            "release_date": movies["release_date"],
        }
    )
    events = _rating_events(ratings)
    return {"events": events, "users": users, "items": items, "consent": _consent(events)}


def load_latest_small(
    raw_dir: Path, mirror: Path | None = None, with_tmdb: bool = False
) -> dict[str, pd.DataFrame]:
    """MovieLens latest-small: 100,836 ratings by 610 users on 9,724 movies, tags as text.

    Parameters
    ----------
    with_tmdb : bool
        Add the TMDB 5000 overviews, taglines and keywords to the item text.
    """

    def path(name: str, dataset: str = "ml-latest-small") -> Path:
        return dataset_file(dataset, name, raw_dir, mirror)

    ratings = read_file(path("ratings.csv")).rename(
        columns={"userId": "user_id", "movieId": "item_id"}
    )
    movies = pd.read_csv(path("movies.csv"), dtype={"movieId": str})
    tags = pd.read_csv(path("tags.csv"), dtype={"userId": str, "movieId": str})
    tag_text = tags.groupby("movieId")["tag"].agg(lambda values: " ".join(map(str, values)))
    items = pd.DataFrame(
        {
            "item_id": movies["movieId"],
            "title": movies["title"],
            "text": (
                movies["title"] + " " + movies["movieId"].map(tag_text).fillna("")
            ).str.strip(),
            "categories": movies["genres"]
            .str.split("|")
            .map(lambda genres: [g for g in genres if g != "(no genres listed)"]),
        }
    )
    if with_tmdb:
        from workbench.data.sources.tmdb import enrich_items

        links = pd.read_csv(path("links.csv"), dtype={"movieId": str})
        tmdb = pd.read_csv(path("tmdb_5000_movies.csv", "tmdb-5000"))
        items = enrich_items(items, links, tmdb)
    events = _rating_events(ratings)
    users = pd.DataFrame({"user_id": sorted(events["user_id"].unique())})
    return {"events": events, "users": users, "items": items, "consent": _consent(events)}


SOURCES = (
    Source("movielens-100k", load_100k),
    Source("movielens-latest-small", load_latest_small),
)
