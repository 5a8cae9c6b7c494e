"""The larger MovieLens sets on small fixture files in each published format."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from workbench.data.catalog import CATALOG
from workbench.data.sources import movielens

ROOT = Path(__file__).resolve().parents[2]

DAT_RATINGS = "1::1193::5::978300760\n1::661::3::978302109\n2::1193::4::978298413\n"
CSV_RATINGS = "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,3,3.5,964981247\n2,1,5.0,1\n"
CSV_MOVIES = (
    "movieId,title,genres\n1,Toy Story (1995),Adventure|Animation\n"
    '3,"Grumpier Old Men, The (1995)",(no genres listed)\n'
)


def write(folder: Path, files: dict[str, str], encoding: str = "utf-8") -> None:
    folder.mkdir(parents=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding=encoding)


@pytest.fixture
def mirror(tmp_path):
    root = tmp_path / "mirror"
    movies_dat = "1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n"
    movies_dat += "661::Star Wars: Episode IV - A New Hope (1977)::Action|Sci-Fi\n"
    write(
        root / "ml-1m",
        {
            "ratings.dat": DAT_RATINGS,
            "movies.dat": movies_dat.replace("Nest", "Nést"),
            "users.dat": "1::F::1::10::48067\n2::M::56::16::70072\n",
        },
        encoding="latin-1",
    )
    write(root / "ml-10m", {"ratings.dat": DAT_RATINGS, "movies.dat": movies_dat})
    for name in ("ml-20m", "ml-25m", "ml-32m"):
        write(root / name, {"ratings.csv": CSV_RATINGS, "movies.csv": CSV_MOVIES})
    return root


@pytest.mark.parametrize("dataset", sorted(movielens.FAMILY))
def test_every_format_loads_into_raw_contract_tables(dataset, mirror, tmp_path):
    tables = movielens.load(tmp_path / "raw", mirror, dataset=dataset)
    events, items = tables["events"], tables["items"]
    assert len(events) == 3 and (events["event_type"] == "rating").all()
    assert events["user_id"].tolist() == ["1", "1", "2"]
    assert len(items) == 2 and tables["consent"]["user_id"].nunique() == 2
    if dataset in ("ml-1m", "ml-10m"):
        assert events["value"].tolist() == ["5", "3", "4"]
        star_wars = items.set_index("item_id").loc["661"]
        assert star_wars["title"] == "Star Wars: Episode IV - A New Hope (1977)"  # ':' kept
        assert star_wars["categories"] == ["Action", "Sci-Fi"]
    else:
        assert events["timestamp"].tolist() == ["964982703", "964981247", "1"]
        assert items["categories"].tolist() == [["Adventure", "Animation"], []]
    if dataset == "ml-1m":
        assert items["title"].iloc[0].endswith("Nést (1975)")  # Latin-1
        assert tables["users"]["occupation"].tolist() == ["10", "16"]


def test_sets_without_a_published_digest_need_the_mirror(tmp_path):
    for dataset in ("ml-10m", "ml-32m"):
        assert CATALOG[dataset].archive_sha256 is None
        with pytest.raises(FileNotFoundError, match="no trustworthy sha256.*mirror folder"):
            movielens.load(tmp_path, None, dataset=dataset)
    for dataset in ("ml-1m", "ml-20m", "ml-25m"):
        assert len(CATALOG[dataset].archive_sha256) == 64


def test_bad_names_and_lines_are_clear_errors(mirror, tmp_path):
    with pytest.raises(ValueError, match="dataset='ml-2m'"):
        movielens.load(tmp_path, mirror, dataset="ml-2m")
    (mirror / "ml-1m" / "movies.dat").write_text("1::Only a title\n", encoding="latin-1")
    with pytest.raises(ValueError, match=r"movies.dat: line 1 has 2 '::'-separated fields"):
        movielens.load(tmp_path, mirror, dataset="ml-1m")
    (mirror / "ml-20m" / "ratings.csv").write_text("user,item\n1,2\n")
    with pytest.raises(ValueError, match=r"header \['user', 'item'\]"):
        movielens.read_ratings("ml-20m", tmp_path, mirror)


def test_the_benchmark_reads_any_family_set(mirror, tmp_path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from movielens import load_ratings, parse_args

    assert parse_args(["--dataset", "ml-25m"]).dataset == "ml-25m"
    ratings = load_ratings(mirror, tmp_path, "ml-1m")
    assert ratings.dtypes.tolist() == ["int64", "int64", "float64", "int64"]
    assert ratings["item_id"].tolist() == [1193, 661, 1193]
