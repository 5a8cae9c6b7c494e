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


def test_pipeline_table_has_every_stage_and_ratio_at_tiny_scales():
    from scale import STAGES, pipeline_table

    table = pipeline_table([0.05, 0.1], n_trials=6)
    assert list(table.index.get_level_values("stage").unique()) == list(STAGES)
    assert (table["skipped"] == "").all()
    assert (table["seconds"] >= 0).all() and (table["peak_mib"] > 0).all()
    later = table.xs(0.1, level="scale")
    for ratio in ("events_x", "time_x", "memory_x", "growth"):
        assert later[ratio].notna().all(), ratio
    assert (later["events_x"] > 1).all()


def test_a_stage_over_the_memory_budget_is_skipped_with_its_reason():
    from scale import pipeline_table

    table = pipeline_table([0.05], n_trials=6, memory_gib=1e-6)
    # the first scale has no peak to project from; the family's cost declaration says no
    assert "ease needs" in table.loc[("collaborative", 0.05), "skipped"]
    assert table.loc[("evaluation", 0.05), "skipped"] == "needs collaborative"
    assert table.loc[("ingestion", 0.05), "skipped"] == ""
