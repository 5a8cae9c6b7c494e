"""Incremental ingestion: idempotent re-runs, appends by watermark, late events, erasures."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from workbench.config import ConfigError, load_pipeline_config
from workbench.data import incremental, ingest, privacy, store
from workbench.data.curate import CurationSettings
from workbench.data.sources.synthetic import generate

SETTINGS = CurationSettings(pseudonym_key=b"k")


@pytest.fixture(scope="module")
def site():
    raw = generate(n_users=120, n_items=40, n_days=8, seed=11)
    events = raw["events"]
    last_day = events["timestamp"].max().normalize()
    history = {**raw, "events": events[events["timestamp"] < last_day]}
    return history, {"events": events[events["timestamp"] >= last_day]}


def _files(folder):
    return {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}


def test_reingesting_the_same_input_changes_nothing(tmp_path, site):
    history, _ = site
    folder = tmp_path / "site"
    first = incremental.update(folder, history, SETTINGS, "synthetic")
    before = _files(folder)
    again = incremental.update(folder, history, SETTINGS, "synthetic")
    assert (again.written, again.appended) == (False, 0)
    assert _files(folder) == before
    assert again.manifest["digest"] == first.manifest["digest"]
    assert again.curation.counts["events_duplicates"] == len(history["events"])


def test_appending_a_day_adds_exactly_its_events(tmp_path, site):
    history, day = site
    folder = tmp_path / "site"
    incremental.update(folder, history, SETTINGS, "synthetic")
    result = incremental.update(folder, day, SETTINGS, "synthetic")
    events = store.read_table(folder, "events")
    assert result.appended == len(day["events"])
    assert len(events) == len(history["events"]) + len(day["events"])
    assert set(events["event_id"]) == set(history["events"]["event_id"]) | set(
        day["events"]["event_id"]
    )
    watermark = pd.Timestamp(result.manifest["watermarks"]["synthetic"])
    assert watermark == day["events"]["timestamp"].max()
    users = store.read_table(folder, "users")
    assert users["age"].notna().all()  # attributes survive a batch without a users table


def test_late_events_inside_the_window_are_accepted_older_ones_quarantined(tmp_path, site):
    history, day = site
    folder = tmp_path / "site"
    incremental.update(folder, {**history, "events": day["events"]}, SETTINGS, "synthetic")
    watermark = day["events"]["timestamp"].max()
    old = history["events"]
    inside = old[old["timestamp"] >= watermark - pd.Timedelta(days=2)]
    outside = old[old["timestamp"] < watermark - pd.Timedelta(days=2)]
    feed = incremental.Feed(late_window=pd.Timedelta(days=2))
    result = incremental.update(folder, {"events": old}, SETTINGS, "synthetic", feed)
    assert result.appended == len(inside)
    counts = result.curation.counts
    assert counts["events_reason_late_event"] == len(outside)
    assert (
        counts["events_in"]
        == counts["events_curated"] + counts["events_quarantined"] + counts["events_duplicates"]
    )
    quarantine = store.read_table(folder, "quarantine")
    assert (quarantine["reason"] == "late_event").sum() == len(outside)
    again = incremental.update(folder, {"events": old}, SETTINGS, "synthetic", feed)
    assert not again.written  # late records already held: nothing new


def test_an_erased_user_stays_erased_when_the_source_is_ingested_again(tmp_path, site):
    history, _ = site
    folder = tmp_path / "site"
    incremental.update(folder, history, SETTINGS, "synthetic")
    target = history["events"]["user_id"].iloc[0]
    privacy.forget(folder, target, SETTINGS.pseudonym_key)
    result = incremental.update(folder, history, SETTINGS, "synthetic", replace_existing=True)
    pseudonym = privacy.pseudonym(target, SETTINGS.pseudonym_key)
    for table in ("events", "users", "consent"):
        assert pseudonym not in set(store.read_table(folder, table)["user_id"])
    assert result.curation.counts["events_erased"] == (history["events"]["user_id"] == target).sum()
    quarantine = store.read_table(folder, "quarantine")
    assert pseudonym not in set(quarantine["user_id"])  # nothing of an erased user is kept
    assert privacy.erased_pseudonyms(folder) == {pseudonym}


def test_a_stored_event_id_with_other_content_is_a_conflict_not_a_duplicate(tmp_path, site):
    history, _ = site
    folder = tmp_path / "site"
    incremental.update(folder, history, SETTINGS, "synthetic")
    stored = store.read_table(folder, "events")
    events = history["events"]
    changed = events.iloc[[0]].assign(item_id=events["item_id"].iloc[-1])  # another item
    assert changed["item_id"].iloc[0] != events["item_id"].iloc[0]
    batch = {"events": pd.concat([changed, events.iloc[[1]]], ignore_index=True)}
    result = incremental.update(folder, batch, SETTINGS, "synthetic")
    counts = result.curation.counts
    assert (counts["events_reason_conflicting_duplicate"], counts["events_duplicates"]) == (1, 1)
    assert counts["events_in"] == counts["events_quarantined"] + counts["events_duplicates"]
    assert result.appended == 0 and result.written  # the quarantine grew
    quarantine = store.read_table(folder, "quarantine")
    conflict = quarantine[quarantine["reason"] == "conflicting_duplicate"]
    assert conflict["value"].tolist() == [events["event_id"].iloc[0]]
    assert conflict["row"].tolist() == [0]
    pd.testing.assert_frame_equal(store.read_table(folder, "events"), stored)  # kept as it was
    again = incremental.update(folder, batch, SETTINGS, "synthetic")
    assert not again.written  # the same conflicting batch twice: nothing new


def test_two_file_feeds_into_one_data_set_keep_their_own_watermarks(tmp_path, site):
    history, day = site
    folder = tmp_path / "site"
    web, app = (day["events"].copy() for _ in range(2))
    web.attrs["source_file"] = str(tmp_path / "web.csv")
    app = history["events"].assign(event_id="app-" + history["events"]["event_id"])
    app.attrs["source_file"] = str(tmp_path / "app.csv")
    incremental.update(folder, {**history, "events": web}, SETTINGS, "files")
    result = incremental.update(folder, {"events": app}, SETTINGS, "files")
    assert result.appended == len(app)  # older than web's watermark, yet nothing is late
    watermarks = result.manifest["watermarks"]
    assert set(watermarks) == {f"files:{tmp_path / 'web.csv'}", f"files:{tmp_path / 'app.csv'}"}
    assert pd.Timestamp(watermarks[f"files:{tmp_path / 'app.csv'}"]) == app["timestamp"].max()


def test_a_named_feed_shares_one_watermark_across_its_daily_files(tmp_path, site):
    history, day = site
    folder = tmp_path / "site"
    feed = incremental.Feed("orders", pd.Timedelta(hours=1))
    first = day["events"].copy()
    first.attrs["source_file"] = str(tmp_path / "orders-2.csv")
    incremental.update(folder, {**history, "events": first}, SETTINGS, "files", feed)
    older = history["events"].assign(event_id="old-" + history["events"]["event_id"])
    older.attrs["source_file"] = str(tmp_path / "orders-1.csv")
    result = incremental.update(folder, {"events": older}, SETTINGS, "files", feed)
    assert set(result.manifest["watermarks"]) == {"orders"}
    cutoff = first["timestamp"].max() - pd.Timedelta(hours=1)
    assert result.curation.counts["events_reason_late_event"] == (older["timestamp"] < cutoff).sum()
    assert result.appended == (older["timestamp"] >= cutoff).sum()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"late_window": 3}, "late_window: expected a duration with its unit"),
        ({"late_window": "soon"}, "late_window: expected a duration with its unit"),
        ({"late_window": "-2 days"}, "late_window: '-2 days' is negative"),
        ({"feed": ["a"]}, "feed: expected a name"),
        ({"feed": "  "}, "feed: expected a name"),
    ],
)
def test_feed_options_are_checked_naming_the_option(options, message):
    with pytest.raises(ValueError, match=message):
        ingest.split_options(options)


def test_feed_options_reach_the_feed_and_never_the_loader():
    loader, overrides, feed = ingest.split_options(
        {"n_users": 5, "feed": "web", "late_window": "36h", "timezone": "Europe/Paris"}
    )
    assert loader == {"n_users": 5} and overrides == {"source_timezone": "Europe/Paris"}
    assert feed == incremental.Feed("web", pd.Timedelta(hours=36))
    assert ingest.split_options({})[2] == incremental.Feed("", incremental.DEFAULT_LATE_WINDOW)


def test_metrics_name_input_rows_and_data_set_rows_apart(tmp_path):
    options = {"n_users": 30, "n_items": 20, "n_days": 4, "late_window": "30 days"}
    settings = ingest.default_settings("synthetic", pseudonym_key=b"k")
    folder, raw = tmp_path / "curated" / "site", tmp_path / "raw"
    first = ingest.ingest("synthetic", folder, raw, options=options, settings=settings, seed=1)
    n_first = first.metrics()["rows_dataset_events"]
    second = ingest.ingest(
        "synthetic", folder, raw, options=options, settings=settings, seed=2, incremental_run=True
    )
    metrics = second.metrics()
    assert (
        metrics["rows_input_events"] == metrics["events_in"] == second.curation.counts["events_in"]
    )
    assert metrics["rows_dataset_events"] == n_first + second.appended
    assert metrics["rows_dataset_events"] == len(store.read_table(folder, "events"))
    assert metrics["rows_input_users"] == 30 and metrics["rows_dataset_users"] >= 30
    assert metrics["events_appended"] == second.appended > 0
    assert "rows_events" not in metrics  # the ambiguous name is gone
    assert second.published_figures() is None  # the synthetic source states no figures


CONFIGURATIONS = sorted((Path(__file__).resolve().parents[2] / "experiments").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGURATIONS, ids=[p.stem for p in CONFIGURATIONS])
def test_every_configuration_says_which_ingestion_mode_it_runs(path):
    config = load_pipeline_config(path, path.parents[1] / "notebooks")
    ingest_step = next(step for step in config.notebooks if step.name == "10_ingest")
    assert ingest_step.parameters["incremental_run"] is False
    assert "false (the default): every run replaces" in path.read_text()


def test_a_bad_late_window_in_a_configuration_is_refused_before_any_work(tmp_path):
    path = tmp_path / "feed.yaml"
    path.write_text(
        "name: feed\ndata: {source: synthetic, options: {late_window: 3}}\n"
        "notebooks:\n  - notebook: 10_ingest.ipynb\n"
    )
    notebooks = Path(__file__).resolve().parents[2] / "notebooks"
    with pytest.raises(ConfigError, match=r"data\.options.*late_window"):
        load_pipeline_config(path, notebooks)
