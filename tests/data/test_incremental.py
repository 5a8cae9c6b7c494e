"""Incremental ingestion: idempotent re-runs, appends by watermark, late events, erasures."""

from __future__ import annotations

import pandas as pd
import pytest

from workbench.data import incremental, privacy, store
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
    result = incremental.update(
        folder, {"events": old}, SETTINGS, "synthetic", late_window=pd.Timedelta(days=2)
    )
    assert result.appended == len(inside)
    counts = result.curation.counts
    assert counts["events_reason_late_event"] == len(outside)
    assert (
        counts["events_in"]
        == counts["events_curated"] + counts["events_quarantined"] + counts["events_duplicates"]
    )
    quarantine = store.read_table(folder, "quarantine")
    assert (quarantine["reason"] == "late_event").sum() == len(outside)


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
