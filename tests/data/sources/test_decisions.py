"""The decisions source: a decision log curated into ``bandit_logs`` under the usual rules."""

from __future__ import annotations

import json

import numpy as np
import pytest

from workbench.data.privacy import pseudonym
from workbench.data.sources import decisions

ALICE = pseudonym("alice", b"key")  # the service logs pseudonyms, never the site's ids


def decision(event_id, shown="a", propensity=0.5, **extra):
    return {
        "kind": "decision", "event_id": event_id, "timestamp": "2026-03-01T10:00:00+00:00",
        "user_id": ALICE, "shown": shown, "position": 1, "propensity": propensity,
        "variant": "champion", "model_versions": {"served": "3"},
        "context": {"cell": "x", "page": "mail me at alice@example.com"}, **extra,
    }  # fmt: skip


def write(path, records, tail: bytes = b""):
    path.write_bytes(b"".join(json.dumps(r).encode() + b"\n" for r in records) + tail)
    return path


def test_rounds_rewards_quarantine_and_privacy(tmp_path):
    log = write(
        tmp_path / "log.jsonl",
        [
            decision("e1"),
            decision("e2", shown="b", propensity=0.25),
            decision("e3", propensity=0.0),  # out of range
            decision("e4", shown="zzz"),  # not in the catalogue
            decision("e1"),  # duplicate
            {"kind": "reward", "event_id": "e1", "reward": 1.0},
            {"kind": "reward", "event_id": "e1", "reward": 1.0},
            {"kind": "reward", "event_id": "ghost", "reward": 1.0},
            {"kind": "rollback", "version": "2"},
        ],
        tail=b'{"kind": "decision", "event_',  # a crash mid-write
    )
    out = decisions.load(path=log, actions=["a", "b"])
    logs = out["bandit_logs"]
    assert logs["action"].tolist() == [0, 1] and logs["reward"].tolist() == [1.0, 0.0]
    assert logs["propensity"].tolist() == [0.5, 0.25] and logs["position"].tolist() == [0, 0]
    assert logs["context_cell"].tolist() == ["x", "x"]
    assert logs["user_id"].tolist() == [ALICE] * 2  # kept as logged: they join with users
    assert "alice@example.com" not in logs["context_page"].iloc[0]
    assert sorted(out["quarantine"]["reason"]) == ["out_of_range", "unknown_item"]
    counts = out["counts"]
    assert (counts["bandit_logs_in"], counts["bandit_logs_duplicates"]) == (5, 1)
    assert counts["orphan_rewards"] == 1 and counts["user_ids_dropped"] == 0


def test_ids_that_are_not_pseudonyms_are_left_out(tmp_path):
    log = write(tmp_path / "log.jsonl", [decision("e1", user_id="alice"), decision("e2")])
    out = decisions.load(path=log)
    assert out["bandit_logs"]["user_id"].isna().tolist() == [True, False]
    assert out["counts"]["user_ids_dropped"] == 1
    assert "alice" not in out["bandit_logs"].astype(str).to_numpy()


def test_missing_rewards_are_zero_or_quarantined(tmp_path):
    log = write(tmp_path / "log.jsonl", [decision("e1"), decision("e2")])
    assert np.array_equal(decisions.load(path=log)["bandit_logs"]["reward"], [0.0, 0.0])
    strict = decisions.load(path=log, missing_reward=None)
    assert strict["bandit_logs"].empty and set(strict["quarantine"]["column"]) == {"reward"}


def test_a_broken_line_inside_the_log_is_an_error_naming_it(tmp_path):
    log = tmp_path / "log.jsonl"
    log.write_text(json.dumps(decision("e1")) + "\n{broken\n" + json.dumps(decision("e2")) + "\n")
    with pytest.raises(ValueError, match="line 2"):
        decisions.load(path=log)
