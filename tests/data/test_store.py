"""The curated layer: atomic writes, stable digests, clear errors."""

from __future__ import annotations

import pandas as pd
import pytest

from workbench.data import store


def _tables(n: int = 3) -> dict[str, pd.DataFrame]:
    return {
        "items": pd.DataFrame(
            {"item_id": [f"i{k}" for k in range(n)], "categories": [["a", "b"]] * n}
        ),
    }


def test_write_then_read_round_trips(tmp_path):
    manifest = store.write_tables(tmp_path / "ds", _tables(), extra={"source": "test"})
    assert manifest["tables"]["items"]["rows"] == 3
    frame = store.read_table(tmp_path / "ds", "items")
    assert list(frame["item_id"]) == ["i0", "i1", "i2"]
    assert store.read_manifest(tmp_path / "ds")["source"] == "test"


def test_digest_depends_on_content_only(tmp_path):
    first = store.write_tables(tmp_path / "a", _tables())
    second = store.write_tables(tmp_path / "b", _tables())
    third = store.write_tables(tmp_path / "c", _tables(4))
    assert first["digest"] == second["digest"] != third["digest"]


def test_failed_write_leaves_previous_data_intact(tmp_path):
    folder = tmp_path / "ds"
    store.write_tables(folder, _tables())

    class Broken(pd.DataFrame):
        def to_parquet(self, *args, **kwargs):
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        store.write_tables(folder, {**_tables(5), "events": Broken({"x": [1]})})
    assert len(store.read_table(folder, "items")) == 3
    assert [p.name for p in tmp_path.iterdir()] == ["ds"], "no staging folder left behind"


def test_missing_table_names_the_data_set(tmp_path):
    with pytest.raises(FileNotFoundError, match="run the ingest notebook for data set 'nope'"):
        store.read_table(tmp_path / "nope", "events")


def test_derived_table_is_added_without_changing_the_digest(tmp_path):
    manifest = store.write_tables(tmp_path / "ds", _tables())
    store.write_table(tmp_path / "ds", "personas", pd.DataFrame({"user_id": ["u"], "p": [1]}))
    after = store.read_manifest(tmp_path / "ds")
    assert after["digest"] == manifest["digest"]
    assert after["derived"]["personas"]["rows"] == 1
    assert list(store.read_table(tmp_path / "ds", "personas")["p"]) == [1]
    with pytest.raises(FileNotFoundError, match="run the ingest notebook"):
        store.write_table(tmp_path / "missing", "personas", pd.DataFrame({"a": [1]}))
