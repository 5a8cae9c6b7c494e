"""MovieLens 100K, latest-small and the larger family, read from the publisher's files.

Ratings become ``rating`` events whose ``value`` is the rating. Genres become item
categories. Latest-small can be enriched with TMDB overviews as item text.

The ``movielens`` source loads the larger sets by name (``FAMILY``): ml-1m (``::``-separated
``ratings.dat``, ``users.dat``, ``movies.dat``, Latin-1), ml-10m (``ratings.dat``,
``movies.dat``, ``::``-separated, UTF-8; the archive's ``ml-10M100K`` folder named ``ml-10m``)
and ml-20m, ml-25m, ml-32m (``ratings.csv``, ``movies.csv``). ml-10m and ml-32m come from a
mirror folder only: no public sha256 of their archives was found (see ``data.catalog``).
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


#: The larger MovieLens sets: name -> (ratings, movies, users or None); ``.dat`` files are
#: ``::``-separated.
FAMILY = {
    "ml-1m": ("ratings.dat", "movies.dat", "users.dat"),
    "ml-10m": ("ratings.dat", "movies.dat", None),
    "ml-20m": ("ratings.csv", "movies.csv", None),
    "ml-25m": ("ratings.csv", "movies.csv", None),
    "ml-32m": ("ratings.csv", "movies.csv", None),
}
_ENCODING = {"ml-1m": "latin-1"}
RATING_COLUMNS = ["user_id", "item_id", "rating", "timestamp"]


def _read_dat(path: Path, names: list[str], encoding: str) -> pd.DataFrame:
    """A ``::``-separated file as text columns ``names`` (fields may hold single colons)."""
    with open(path, encoding=encoding) as handle:
        rows = [line.rstrip("\r\n").split("::") for line in handle if line.strip()]
    bad = next((i for i, row in enumerate(rows) if len(row) != len(names)), None)
    if bad is not None:
        raise ValueError(
            f"{path}: line {bad + 1} has {len(rows[bad])} '::'-separated fields, "
            f"expected {len(names)} ({', '.join(names)})"
        )
    frame = pd.DataFrame(rows, columns=names, dtype=str)
    frame.attrs["source_file"] = str(path)
    return frame


def read_ratings(dataset: str, raw_dir: Path, mirror: Path | None = None) -> pd.DataFrame:
    """Ratings of a ``FAMILY`` set in file order: user_id, item_id, rating, timestamp (text)."""
    name = _family_files(dataset)[0]
    path = dataset_file(dataset, name, raw_dir, mirror)
    if name.endswith(".dat"):  # numbers only: ``::`` is two ``:``, read by the C parser
        ratings = pd.read_csv(
            path, sep=":", header=None, usecols=[0, 2, 4, 6], dtype=str, engine="c"
        )
    else:
        ratings = pd.read_csv(path, dtype=str, engine="c")
        expected = ["userId", "movieId", "rating", "timestamp"]
        if list(ratings.columns) != expected:
            raise ValueError(f"{path}: header {list(ratings.columns)}, expected {expected}")
    ratings.columns = RATING_COLUMNS
    ratings.attrs["source_file"] = str(path)
    return ratings


def _family_files(dataset: str) -> tuple[str, str, str | None]:
    if dataset not in FAMILY:
        raise ValueError(f"dataset={dataset!r}; the movielens source knows {sorted(FAMILY)}")
    return FAMILY[dataset]


def load(raw_dir: Path, mirror: Path | None = None, dataset: str = "ml-1m") -> dict:
    """A larger MovieLens set (``dataset``, a key of ``FAMILY``) as raw contract tables.

    Returns
    -------
    dict
        ``events`` (ratings), ``items`` (title, genres as categories), ``users`` (ml-1m:
        gender, age band, occupation code, zip; else the ids), ``consent``.
    """
    _, movies_name, users_name = _family_files(dataset)
    encoding = _ENCODING.get(dataset, "utf-8")
    movies_path = dataset_file(dataset, movies_name, raw_dir, mirror)
    if movies_name.endswith(".dat"):
        movies = _read_dat(movies_path, ["movieId", "title", "genres"], encoding)
    else:
        movies = pd.read_csv(movies_path, dtype=str)
    items = pd.DataFrame(
        {
            "item_id": movies["movieId"],
            "title": movies["title"],
            "text": movies["title"],
            "categories": movies["genres"]
            .fillna("")
            .str.split("|")
            .map(lambda genres: [g for g in genres if g and g != "(no genres listed)"]),
        }
    )
    events = _rating_events(read_ratings(dataset, raw_dir, mirror))
    if users_name is None:
        users = pd.DataFrame({"user_id": sorted(events["user_id"].unique())})
    else:
        names = ["user_id", "gender", "age", "occupation", "zip"]
        users = _read_dat(dataset_file(dataset, users_name, raw_dir, mirror), names, encoding)
    return {"events": events, "users": users, "items": items, "consent": _consent(events)}


SOURCES = (
    Source("movielens-100k", load_100k),
    Source("movielens-latest-small", load_latest_small),
    Source("movielens", load),
)
