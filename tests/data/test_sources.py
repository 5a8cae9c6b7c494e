"""Sources load into the contract; the real data sets give their published counts."""

from __future__ import annotations

import pytest

from workbench import config
from workbench.data import ingest, retail
from workbench.data.contract import validate_table
from workbench.data.sources import CATALOGUE, get_loader, get_source, load_source, online_retail
from workbench.data.sources.synthetic import generate


def test_the_catalogue_is_the_one_list_of_sources():
    names = tuple(source.name for source in CATALOGUE)
    assert names == config.SOURCES
    assert set(names) == {
        "synthetic",
        "movielens-100k",
        "movielens-latest-small",
        "movielens",
        "online-retail",
        "files",
    }
    assert get_loader("online-retail") is online_retail.load
    with pytest.raises(ValueError, match="unknown source 'myspace'"):
        get_source("myspace")


def test_default_settings_come_from_the_source_declaration():
    settings = ingest.default_settings("online-retail", pseudonym_key=b"k")
    assert settings.source_timezone == "Europe/London" and settings.pseudonym_key == b"k"
    assert settings.source_rules.prepare_events is retail.invoice_lines
    assert settings.source_rules.raw_counts is retail.raw_figures
    assert ingest.default_settings("online-retail", "UTC").source_timezone == "UTC"
    plain = ingest.default_settings("movielens-100k")
    assert (plain.source_timezone, plain.source_rules) == ("UTC", None)


def test_synthetic_is_reproducible_and_valid():
    first, second = generate(n_users=200, seed=7), generate(n_users=200, seed=7)
    assert first["events"].equals(second["events"])
    assert not first["events"].equals(generate(n_users=200, seed=8)["events"])
    for name, table in first.items():
        validate_table(table, name)


def test_synthetic_plants_segment_preferences():
    tables = generate(n_users=800, seed=1)
    events = tables["events"].merge(tables["users"][["user_id", "planted_segment"]])
    primary = tables["items"].set_index("item_id")["categories"].str[0]
    events["category"] = events["item_id"].map(primary)
    top = events.groupby("planted_segment")["category"].agg(lambda c: c.value_counts().index[0])
    assert top["morning_desktop_tech"] == "electronics"
    assert top["evening_mobile_fashion"] == "fashion"
    hours = events.groupby("planted_segment")["timestamp"].agg(lambda t: t.dt.hour.median())
    assert hours["evening_mobile_fashion"] > hours["morning_desktop_tech"] + 8


@pytest.mark.mirror
def test_movielens_100k_counts(tmp_path, mirror):
    tables = load_source("movielens-100k", tmp_path, mirror)
    events = tables["events"]
    assert (len(events), events["user_id"].nunique(), events["item_id"].nunique()) == (
        100_000,
        943,
        1_682,
    )
    assert set(events["value"].unique()) == {1.0, 2.0, 3.0, 4.0, 5.0}
    assert "Animation" in tables["items"].set_index("item_id").loc["1", "categories"]


@pytest.mark.mirror
def test_movielens_latest_small_counts(tmp_path, mirror):
    tables = load_source("movielens-latest-small", tmp_path, mirror)
    assert len(tables["events"]) == 100_836
    assert tables["events"]["user_id"].nunique() == 610


@pytest.mark.mirror
@pytest.mark.slow
def test_online_retail_reads_every_invoice_line(tmp_path, mirror):
    events = load_source("online-retail", tmp_path, mirror)["events"]
    assert len(events) == 541_909
    assert events["user_id"].isna().sum() == 135_080
    assert events["user_id"].nunique() == 4_372
    assert events["item_id"].nunique() == 4_070
    assert events["invoice_no"].nunique() == 25_900
    assert (events["event_type"] == "return").sum() == events["invoice_no"].str.startswith(
        "C"
    ).sum()
