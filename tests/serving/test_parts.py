"""The service's parts on their own: exploration, flags, variants, guard, decision log."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from workbench.serving.decision_log import DecisionLog, RewardConflict, read_log
from workbench.serving.exploration import draw, explore, greedy
from workbench.serving.guard import CanaryGuard
from workbench.serving.settings import Guard, assign_variant, bucket, load_flags


def test_exploration_keeps_the_floor_and_the_order():
    scores = np.array([3.0, 1.0, 0.0, -5.0])
    probabilities = explore(scores, temperature=1.0, min_propensity=0.05)
    assert np.isclose(probabilities.sum(), 1.0) and probabilities.min() >= 0.05
    assert (np.diff(probabilities) <= 0).all()  # better scores, higher probabilities
    np.testing.assert_allclose(explore(np.zeros(4)), 0.25)  # ties: uniform
    np.testing.assert_allclose(explore(scores, min_propensity=0.9), 0.25)  # floor capped at 1/n
    assert greedy(scores).tolist() == [1.0, 0.0, 0.0, 0.0]


def test_draws_follow_the_distribution():
    rng = np.random.default_rng(0)
    probabilities = np.array([0.7, 0.2, 0.1])
    counts = np.bincount([draw(probabilities, rng) for _ in range(5000)], minlength=3)
    np.testing.assert_allclose(counts / 5000, probabilities, atol=0.02)


def test_variants_are_stable_and_follow_the_share():
    users = [f"u{i}" for i in range(4000)]
    share = np.mean([assign_variant(u, 0.2, "s") == "challenger" for u in users])
    assert abs(share - 0.2) < 0.02
    assert bucket("u1", "s") == bucket("u1", "s") != bucket("u1", "other")
    grown = [u for u in users if assign_variant(u, 0.2, "s") == "challenger"]
    assert all(assign_variant(u, 0.5, "s") == "challenger" for u in grown)  # no one flips back


def test_flags_errors_name_the_field_and_value(tmp_path):
    assert load_flags(None).challenger_share == 0.0
    assert load_flags(tmp_path / "absent.yaml").components.consent
    path = tmp_path / "flags.yaml"
    path.write_text("challenger_share: 1.5\n")
    with pytest.raises(ValueError, match=r"challenger_share: .* \(got 1.5\)"):
        load_flags(path)
    path.write_text("components: {conversoin: false}\n")
    with pytest.raises(ValueError, match="components.conversoin"):
        load_flags(path)


def test_guard_waits_for_evidence_then_judges_errors_and_rewards():
    guard, config = CanaryGuard(), Guard(min_decisions=10, error_margin=0.1, reward_margin=0.1)
    for _ in range(9):
        guard.record_decision("champion", "1")
        guard.record_decision("challenger", "2", error=True)
    assert guard.verdict(config, "1", "2") is None  # too few decisions yet
    guard.record_decision("champion", "1")
    guard.record_decision("challenger", "2", error=True)
    assert "error rate 1.000" in guard.verdict(config, "1", "2")
    fair = CanaryGuard()
    for _ in range(10):
        fair.record_decision("champion", "1")
        fair.record_decision("challenger", "2")
        fair.record_reward("champion", "1", 0.5)
        fair.record_reward("challenger", "2", 0.45)
    assert fair.verdict(config, "1", "2") is None  # within the margin


def test_log_group_commit_keeps_every_line_and_rewards_once(tmp_path):
    log = DecisionLog(tmp_path / "log.jsonl")

    def decide(worker: int) -> None:
        for i in range(50):
            log.append_decision({"event_id": f"{worker}-{i}", "shown": "a", "user_id": "u"})

    threads = [threading.Thread(target=decide, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert log.append_reward("0-0", 1.0)[1] and not log.append_reward("0-0", 1.0)[1]
    with pytest.raises(RewardConflict, match="already has reward 1.0"):
        log.append_reward("0-0", 0.0)
    with pytest.raises(KeyError):
        log.append_reward("nope", 1.0)
    log.close()
    records = read_log(tmp_path / "log.jsonl")
    assert len(records) == 201 and len({r["event_id"] for r in records}) == 200
    with open(tmp_path / "log.jsonl", "ab") as handle:
        handle.write(b'{"kind": "decision", "ev')  # a crash mid-write
    reopened = DecisionLog(tmp_path / "log.jsonl")  # cuts the incomplete line, knows the rest
    assert not reopened.append_reward("0-0", 1.0)[1] and len(reopened.decisions) == 200
    reopened.close()
    assert len(read_log(tmp_path / "log.jsonl")) == 201
