"""Where each public data set is published, and the sha256 of every file the loaders read.

A file is taken from the mirror folder when one is given (read in place), else from
``data/raw`` when a verified copy is already there, else downloaded from the publisher: an
archive is fetched and checked, its members extracted and checked one by one.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from workbench.data.download import ChecksumError, fetch, verify


@dataclass(frozen=True)
class PublishedDataset:
    """A data set's files as its publisher ships them.

    Attributes
    ----------
    folder : str
        Folder name below the raw layer and below a mirror.
    files : dict
        Relative file name -> sha256; ``None`` when only the archive's digest is published
        (the member is trusted through the checked archive, and read unchecked from a mirror).
    archive_url, archive_sha256 : str, optional
        A zip archive whose members are ``folder/<file>``; files are fetched one by one from
        ``file_url`` otherwise.
    file_url : str, optional
        Base address that ``<file>`` is appended to.
    """

    folder: str
    files: dict[str, str]
    archive_url: str | None = None
    archive_sha256: str | None = None
    file_url: str | None = None
    licence: str = ""
    extra: dict[str, str] = field(default_factory=dict)


_OBD = "https://raw.githubusercontent.com/st-tech/zr-obp/master/obd/"

CATALOG: dict[str, PublishedDataset] = {
    "ml-100k": PublishedDataset(
        folder="ml-100k",
        archive_url="https://files.grouplens.org/datasets/movielens/ml-100k.zip",
        archive_sha256="50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229",
        files={
            "u.data": "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490",
            "u.item": "553841ebc7de3a0fd0d6b62a204ea30c1e651aacfb2814c7a6584ac52f2c5701",
            "u.user": "f120e114da2e8cf314fd28f99417c94ae9ddf1cb6db8ce0e4b5995d40e90e62c",
            "u.genre": "9757e0d3e6b298159a80dd48eaf938114690e911e39af97a76949ef1663610bb",
            "u.occupation": "cd5fbec9afe345d993a62fc7817df1a4a9079c4feb267b3118763b8fd942137d",
        },
        licence="GroupLens research licence: research use only, no redistribution",
    ),
    "ml-latest-small": PublishedDataset(
        folder="ml-latest-small",
        archive_url="https://files.grouplens.org/datasets/movielens/ml-latest-small.zip",
        files={
            "ratings.csv": "aa289ca83157595d0df6aea1be6a4ded676ddc4385472e8313a8ed9805352646",
            "movies.csv": "5a5f32dd9bb3797b8e728a1b98958789d2b13f294a69fdfbc5727f8a9611aa07",
            "tags.csv": "92a9f8bb7916dceef6151209845788c3643f794dfa79d1feaec7121b5960399d",
            "links.csv": "97ad18e4e56a09363c65676b6cb3482ce3e2cea2372a24620c1599c843325f31",
        },
        licence="GroupLens licence, research and non-commercial use",
    ),
    # The MovieLens family below: the archives' sha256 are those pinned by TensorFlow Datasets
    # (tensorflow/datasets, tensorflow_datasets/url_checksums/movielens.txt, which also pins
    # ml-100k's, equal to ours). GroupLens publishes no member digests, so members are
    # trusted through the checked archive (``None``). No public sha256 of ml-10m.zip or
    # ml-32m.zip was found (only md5): those two load from a mirror folder only.
    **{
        name: PublishedDataset(
            folder=name,
            archive_url=f"https://files.grouplens.org/datasets/movielens/{name}.zip",
            archive_sha256=sha256,
            files=dict.fromkeys(members),
            licence="GroupLens licence, research and non-commercial use, no redistribution",
        )
        for name, sha256, members in (
            (
                "ml-1m",
                "a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20",
                ("ratings.dat", "users.dat", "movies.dat"),
            ),
            ("ml-10m", None, ("ratings.dat", "movies.dat")),
            (
                "ml-20m",
                "96f243c338a8665f6bcc89c53edf6ee39162a846940de6b7c8c48aeada765ff3",
                ("ratings.csv", "movies.csv"),
            ),
            (
                "ml-25m",
                "8b21cfb7eb1706b4ec0aac894368d90acf26ebdfb6aced3ebd4ad5bd1eb9c6aa",
                ("ratings.csv", "movies.csv"),
            ),
            ("ml-32m", None, ("ratings.csv", "movies.csv")),
        )
    },
    "tmdb-5000": PublishedDataset(
        folder="tmdb-5000",
        files={
            "tmdb_5000_movies.csv": (
                "1e0584a8dd374120e4ed4f2b81f0d2bd0eb95a554708e4a350d00ed5c46d2825"
            ),
        },
        licence="TMDb API data, research and non-commercial use; attribute TMDb",
    ),
    "online-retail": PublishedDataset(
        folder="online-retail",
        files={
            "online_retail.csv.gz": (
                "fd06da9b869c00edd97d918fe8e0be1bdb955dc0341a740ade7f4527ae5cc9b2"
            ),
        },
        licence="UCI, CC BY 4.0 (Chen 2015, doi:10.24432/C5BW33)",
    ),
    "obd": PublishedDataset(
        folder="obd",
        file_url=_OBD,
        files={
            "random/all/all.csv": (
                "7168295b6e0a9eabcf3392320a5dd434e542b68e705d5cd9491499af589812f1"
            ),
            "random/all/item_context.csv": (
                "eba04cc23d5f130a93ff174c5392986882b94c3839433cb8143870eaa6221358"
            ),
            "random/men/men.csv": (
                "ede6d08c6877f99cd3770f7d09e26c738e6aa6de4445ccccfb1356ba5d06b1eb"
            ),
            "random/women/women.csv": (
                "e65f3bd3beb17664fa69cc129bf7bf852a775f8ffa630506e505fc905315bb34"
            ),
            "bts/all/all.csv": "0ad874e4dbf6902f0845dd478ad8dde5ef6903583d3ffaace78411bdad064106",
            "bts/all/item_context.csv": (
                "5d4359ba1cfa3ae88f0f1bae66bd633859fe6323817183632ee57b83539d9153"
            ),
            "bts/men/men.csv": "db6d1f7ed2d591ba521533e45286d4c1fba7fe57a8ad2e80342210335f43c527",
            "bts/women/women.csv": (
                "e5d1b49a39b608585a2f3014a3f54970430cd37a495c1b73fceb85cdf428a5b8"
            ),
        },
        licence="Open Bandit Dataset (Saito et al. 2021), CC BY 4.0",
    ),
}


def dataset_file(dataset: str, name: str, raw_dir: Path, mirror: Path | None = None) -> Path:
    """Path to a verified copy of file ``name`` of ``dataset``.

    Parameters
    ----------
    dataset : str
        A key of ``CATALOG``.
    name : str
        A key of that data set's ``files``.
    raw_dir : Path
        The raw layer; downloads land in ``raw_dir/<folder>/``.
    mirror : Path, optional
        A folder laid out like ``../shared/data``; read in place, checked the same way.

    Raises
    ------
    FileNotFoundError, ChecksumError
        With the file's path and the expected digest; FileNotFoundError too for a data set
        with no published digest at all (ml-10m, ml-32m) when no mirror holds it.
    """
    published = CATALOG[dataset]
    sha256 = published.files[name]
    relative = f"{published.folder}/{name}"
    unchecked = sha256 is None and published.archive_sha256 is None
    if mirror is None and unchecked and not (Path(raw_dir) / relative).is_file():
        raise FileNotFoundError(
            f"{dataset}: no trustworthy sha256 of {published.archive_url} is published, so it "
            f"is not downloaded; extract it and pass a mirror folder holding {relative}"
        )
    if mirror is not None or published.archive_url is None:
        url = published.file_url + name if published.file_url else None
        return fetch(relative, url, sha256, Path(raw_dir), mirror)
    target = Path(raw_dir) / relative
    if not target.is_file():
        _extract_archive(published, Path(raw_dir))
    return verify(target, sha256)


def _extract_archive(published: PublishedDataset, raw_dir: Path) -> None:
    """Download the data set's archive (checked) and extract its members (each checked)."""
    archive = fetch(
        f"{published.folder}.zip", published.archive_url, published.archive_sha256, raw_dir
    )
    with zipfile.ZipFile(archive) as bundle:
        for name, sha256 in published.files.items():
            member = f"{published.folder}/{name}"
            target = raw_dir / member
            part = target.with_suffix(target.suffix + ".part")
            target.parent.mkdir(parents=True, exist_ok=True)
            part.write_bytes(bundle.read(member))
            try:
                verify(part, sha256)
            except ChecksumError:
                part.unlink(missing_ok=True)
                raise
            part.replace(target)
