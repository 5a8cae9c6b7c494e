"""``workbench data``: listing curated data sets and erasing a user from them."""

from __future__ import annotations

import pytest

from workbench import cli
from workbench.data import ingest, privacy, store

KEY = "a-test-key"


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project root holding one small curated synthetic data set."""
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    monkeypatch.setenv("WORKBENCH_PSEUDONYM_KEY", KEY)
    settings = ingest.default_settings("synthetic", pseudonym_key=KEY.encode())
    ingest.ingest(
        "synthetic",
        tmp_path / "data/curated/site",
        tmp_path / "data/raw",
        options={"n_users": 40, "n_items": 30, "n_days": 5},
        settings=settings,
    )
    return tmp_path


def test_list_shows_the_data_set(project, capsys):
    assert cli.main(["data", "list"]) == 0
    assert "site" in capsys.readouterr().out


def test_forget_erases_the_user_and_records_it(project, capsys):
    folder = project / "data/curated/site"
    target = privacy.pseudonym("u0000003", KEY.encode())
    assert target in set(store.read_table(folder, "events")["user_id"])
    assert cli.main(["data", "forget", "u0000003"]) == 0
    assert f"erased pseudonym {target[:12]}" in capsys.readouterr().out
    for table in ("events", "users", "consent"):
        assert target not in set(store.read_table(folder, table)["user_id"]), table
    assert target in privacy.erased_pseudonyms(folder)
    assert "u0000003" not in (folder / "erasures.parquet").read_bytes().decode("latin-1")


def test_forget_an_unknown_id_exits_nonzero_naming_it_and_changes_nothing(project, capsys):
    folder = project / "data/curated/site"
    before = (folder / "manifest.json").read_bytes()
    assert cli.main(["data", "forget", "nobody-here"]) == 1
    assert "nobody-here" in capsys.readouterr().err
    assert (folder / "manifest.json").read_bytes() == before


def test_rollback_restores_the_previous_version_byte_for_byte(project, capsys):
    folder = project / "data/curated/site"
    first = {p.name: p.read_bytes() for p in folder.glob("*.parquet")}
    assert cli.main(["data", "forget", "u0000003"]) == 0
    assert cli.main(["data", "list"]) == 0
    assert "v2" in capsys.readouterr().out
    assert cli.main(["data", "rollback", "site", "1"]) == 0
    restored = {p.name: p.read_bytes() for p in folder.glob("*.parquet")}
    assert restored.keys() == first.keys() | {"erasures.parquet"}  # v1 rewritten without the user
    target = privacy.pseudonym("u0000003", KEY.encode())
    assert target not in set(store.read_table(folder, "events")["user_id"])  # erased in v1 too


def test_a_served_recommender_never_personalizes_for_an_erased_user(project):
    import numpy as np
    import scipy.sparse as sp

    from workbench.data.interactions import IdMap
    from workbench.models.popularity import Popularity
    from workbench.publish.recommender import RecommenderService

    events = store.read_table(project / "data/curated/site", "events")
    users = IdMap.from_values(events["user_id"])
    items = IdMap.from_values(events["item_id"])
    rows = users.to_index(events["user_id"].to_numpy())
    cols = items.to_index(events["item_id"].to_numpy())
    matrix = sp.csr_matrix(
        (np.ones(len(rows)), (rows, cols)), shape=(len(users.ids), len(items.ids))
    )
    service = RecommenderService.from_fitted(Popularity().fit(matrix), matrix, users, items)
    target = privacy.pseudonym("u0000003", KEY.encode())
    assert not service.recommend([target])["fallback"].iloc[0]
    assert cli.main(["data", "forget", "u0000003"]) == 0
    assert service.recommend([target])["fallback"].iloc[0]  # the same loaded model
