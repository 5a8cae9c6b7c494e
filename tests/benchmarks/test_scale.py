"""The scale benchmark's synthetic log keeps its size and shape, and every step is measured."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))


def test_synthetic_log_has_the_requested_distinct_pairs_and_repeats():
    from scale import synthetic_log

    log = synthetic_log(5_000, seed=1)
    assert len(log) == 5_000
    assert not log.duplicated(["user_id", "item_id"]).any()
    assert log.equals(synthetic_log(5_000, seed=1))
    # MovieLens 1M's density (about 4.5%) at every size
    density = len(log) / (log["user_id"].max() + 1) / (log["item_id"].max() + 1)
    assert 0.03 < density < 0.06


def test_every_step_is_timed_on_a_small_log():
    from scale import measure

    row = measure(3_000, k=5, noise=0.4, repeats=1)
    for step in ("split", "all_metrics", "serendipity", "diversity", "ndcg"):
        assert row[f"{step}_s"] >= 0 and row[f"{step}_mib"] > 0
    assert 0 < row["shown_items"] <= row["items"]
