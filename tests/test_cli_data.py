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
