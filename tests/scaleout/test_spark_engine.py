"""The Spark engine against the pandas one on the same input: the same curated rows, the same
quarantined rows with the same reasons, equal RFM; Spark ALS scored with the project's metrics.

One ``local[2]`` session for the module (15-25 s to start); skipped, saying why, without pyspark
or Java.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from workbench.data.curate import curate
from workbench.data.ingest import default_settings
from workbench.data.sources.synthetic import generate
from workbench.engines import spark_session

pytestmark = [pytest.mark.slow]
KEY = b"equivalence-test-key"


@pytest.fixture(scope="module")
def spark():
    try:
        spark_session.check_available()
    except spark_session.SparkUnavailable as error:
        pytest.skip(str(error))
    session = spark_session.session("local[2]", app_name="workbench-tests", driver_memory="1g")
    yield session
    session.stop()


def planted(n_users: int = 150, n_items: int = 60) -> dict[str, pd.DataFrame]:
    """Synthetic tables with one row of each defect the checks catch, known in advance."""
    raw = generate(n_users=n_users, n_items=n_items, n_days=20, seed=5)
    events = raw["events"].copy()
    events["timestamp"] = events["timestamp"].astype("str")  # parsed by curation, as from CSV
    bad = events.iloc[:8].copy()
    bad["event_id"] = [f"bad{i}" for i in range(8)]
    bad.iloc[0, bad.columns.get_loc("user_id")] = None  # missing_required
    bad.iloc[1, bad.columns.get_loc("timestamp")] = "not a time"  # unparseable_timestamp
    bad.iloc[2, bad.columns.get_loc("event_type")] = "teleport"  # out_of_range
    bad.iloc[3, bad.columns.get_loc("user_id")] = "nobody-known"  # unknown_user
    bad.iloc[4, bad.columns.get_loc("item_id")] = "no-such-item"  # unknown_item
    bad.iloc[5, bad.columns.get_loc("timestamp")] = "2099-01-01T00:00:00Z"  # future_timestamp
    repeat = events.iloc[[10]].copy()  # an exact repeat: dropped as a duplicate
    conflict = events.iloc[[11]].copy()
    conflict["item_id"] = events["item_id"].iloc[12]  # same id, other content: quarantined
    raw["events"] = pd.concat([events, bad, repeat, conflict], ignore_index=True)
    raw["events"] = raw["events"].sample(frac=1.0, random_state=0).reset_index(drop=True)
    return raw


def digest(frame: pd.DataFrame) -> str:
    """sha256 of a table sorted canonically (by every column), columns in a fixed order."""
    ordered = frame[sorted(frame.columns)].astype("str")
    ordered = ordered.sort_values(list(ordered.columns)).reset_index(drop=True)
    return hashlib.sha256(pd.util.hash_pandas_object(ordered, index=False).values).hexdigest()


@pytest.fixture(scope="module")
def both_engines(spark):
    from workbench.engines import spark_curate

    raw = planted()
    settings = default_settings("synthetic", pseudonym_key=KEY, as_of="2026-06-01T00:00:00Z")
    pandas_result = curate(raw, settings)
    known_users, known_items, merges = spark_curate.dimension_ids(raw, settings)
    events = spark_curate.with_row_numbers(spark.createDataFrame(raw["events"])).repartition(3)
    result = spark_curate.curate_events(
        events, settings, known_users, known_items, merges, source_file="events"
    )
    return pandas_result, result


def test_both_engines_curate_the_same_rows(both_engines):
    pandas_result, spark_result = both_engines
    events, _ = spark_result.to_pandas()
    expected = pandas_result.tables["events"]
    assert len(events) == len(expected) > 0
    assert digest(events[expected.columns]) == digest(expected)


def test_both_engines_quarantine_the_same_rows_for_the_same_reasons(both_engines):
    pandas_result, spark_result = both_engines
    _, quarantine = spark_result.to_pandas()
    expected = pandas_result.quarantine
    expected = expected[expected["table"] == "events"].sort_values("row").reset_index(drop=True)
    assert sorted(expected["reason"]) == sorted(
        ["missing_required", "unparseable_timestamp", "out_of_range", "unknown_user",
         "unknown_item", "future_timestamp", "conflicting_duplicate", "conflicting_duplicate"]
    )  # fmt: skip
    columns = ["row", "reason", "column", "value", "record", "user_id"]
    pd.testing.assert_frame_equal(quarantine[columns], expected[columns], check_dtype=False)
    counts = {key: value for key, value in pandas_result.counts.items()
              if key.startswith("events_") and "_issue_" not in key}  # fmt: skip
    assert spark_result.counts == counts
    assert counts["events_duplicates"] == 1


def test_both_engines_compute_equal_rfm(spark, both_engines):
    from workbench.engines import spark_features
    from workbench.features.rfm import rfm

    pandas_result, spark_result = both_engines
    as_of = pd.Timestamp("2026-06-01", tz="UTC")
    kinds = ("view", "click", "purchase")
    expected = rfm(pandas_result.tables["events"], as_of, transaction_types=kinds)
    found = spark_features.rfm(spark_result.events, as_of, transaction_types=kinds).toPandas()
    found = found.set_index("user_id").sort_index()[expected.columns]
    pd.testing.assert_frame_equal(found, expected, check_dtype=False, check_index_type=False)
    assert np.isfinite(found["rfm_score"]).all()


@pytest.mark.mirror
def test_spark_als_is_comparable_to_implicit_als_on_movielens_100k(spark, mirror, tmp_path):
    from workbench.data.catalog import dataset_file
    from workbench.data.splits import prepare_splits
    from workbench.engines.spark_als import compare_with_implicit

    ratings = pd.read_csv(
        dataset_file("ml-100k", "u.data", tmp_path, mirror),
        sep="\t", names=["user_id", "item_id", "rating", "timestamp"],
    )  # fmt: skip
    data = prepare_splits(ratings, "stratified", 0.75, 0.75, 42, 1, filter_by="item")
    params = {"factors": 32, "regularization": 0.05, "alpha": 10.0, "iterations": 10}
    found = compare_with_implicit(data.train, data.test, k=10, seed=42, master="local[2]", **params)
    difference = found["spark"]["ndcg_at_10"] - found["implicit"]["ndcg_at_10"]
    print(f"\nnDCG@10 on ML-100K: implicit {found['implicit']['ndcg_at_10']:.4f}, "
          f"spark {found['spark']['ndcg_at_10']:.4f}, difference {difference:+.4f}")  # fmt: skip
    assert found["implicit"]["ndcg_at_10"] > 0.2 and found["spark"]["ndcg_at_10"] > 0.2
    assert abs(difference) < 0.1


def test_both_engines_compute_equal_engagement_and_context(spark, both_engines):
    from workbench.engines.spark_features import SparkFeatures
    from workbench.features.context import context
    from workbench.features.engagement import engagement

    events = both_engines[0].tables["events"]
    as_of = pd.Timestamp("2026-06-01", tz="UTC")
    kernels = SparkFeatures(spark)
    # sessions as the source gives them, then inferred from 30-minute pauses
    for table in (events, events.drop(columns="session_id")):
        expected = engagement(table, as_of)
        pd.testing.assert_frame_equal(kernels.engagement(table, as_of), expected)
    expected = context(events, as_of)
    assert {"device_mobile", "main_device", "main_channel"} <= set(expected.columns)
    pd.testing.assert_frame_equal(kernels.context(events, as_of), expected, check_dtype=False)


def test_engine_spark_writes_the_curated_layer_the_pandas_engine_writes(spark, tmp_path):
    from workbench.engines import select

    settings = default_settings("synthetic", pseudonym_key=KEY, as_of="2026-06-01T00:00:00Z")
    options = {"n_users": 120, "n_items": 50, "n_days": 15}
    # rows come back in many Arrow batches, as from a large input (same file bytes even so)
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", "500")
    found = {}
    try:
        for name in ("pandas", "spark"):
            engine = select(name, "local[2]")
            found[name] = engine.ingest("synthetic", tmp_path / name, tmp_path / "raw",
                                        options=options, settings=settings, seed=7)  # fmt: skip
    finally:
        spark.conf.unset("spark.sql.execution.arrow.maxRecordsPerBatch")
    assert found["spark"].digest == found["pandas"].digest
    assert found["spark"].curation.counts == found["pandas"].curation.counts
    files = sorted(p.name for p in (tmp_path / "spark").iterdir())
    assert files == sorted(p.name for p in (tmp_path / "pandas").iterdir())


def test_engine_spark_assembles_the_pandas_curation_of_planted_defects(spark, both_engines):
    """Tables, quarantine, field issues and counts (issues included) of the whole curation."""
    from workbench.engines import spark_curate

    expected = both_engines[0]
    settings = default_settings("synthetic", pseudonym_key=KEY, as_of="2026-06-01T00:00:00Z")
    found = spark_curate.curate(planted(), settings, spark)
    assert found.tables.keys() == expected.tables.keys()
    for name, table in expected.tables.items():
        pd.testing.assert_frame_equal(found.tables[name], table)
    pd.testing.assert_frame_equal(found.quarantine, expected.quarantine)
    pd.testing.assert_frame_equal(found.issues, expected.issues)
    assert found.counts == expected.counts
    np.testing.assert_array_equal(found.event_rows, expected.event_rows)


def test_engine_spark_tunes_and_refits_als_on_spark_scored_by_the_projects_metrics(spark):
    from workbench.data.interactions import interaction_pairs
    from workbench.data.splits import prepare_splits
    from workbench.engines import select
    from workbench.engines.spark_als import SparkALS
    from workbench.evaluation import evaluate
    from workbench.tuning import Budget
    from workbench.workflows.collaborative import run_family

    events = generate(n_users=80, n_items=30, n_days=10, seed=3)["events"]
    data = prepare_splits(interaction_pairs(events), seed=1)
    budget = Budget(1, seed=9, k=5)  # its one trial draws a short fit: 11 iterations, 32 factors
    result = run_family("als", data, budget, engine=select("spark", "local[2]"))
    assert isinstance(result.model, SparkALS) and result.n_trials == 1
    assert result.model.item_factors_.shape == (data.train.shape[1], result.params["factors"])
    scores = evaluate(result.model, data.train, data.test, k=5)
    assert 0.0 < result.metrics["ndcg_at_5"] <= 1.0
    assert result.metrics["ndcg_at_5"] == pytest.approx(scores["ndcg_at_5"])
