"""Splits partition the log, keep their ratios, never leak, and repeat with the seed."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from workbench.data import splits


@pytest.fixture
def events() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 600
    return pd.DataFrame(
        {
            "user_id": [f"u{i}" for i in rng.integers(0, 30, n)],
            "item_id": [f"i{i}" for i in rng.integers(0, 40, n)],
            "timestamp": pd.to_datetime(rng.integers(0, 10**6, n), unit="s", utc=True),
        }
    ).reset_index(names="row")


def _is_partition(events, train, test) -> bool:
    rows = np.concatenate([train["row"], test["row"]])
    return len(rows) == len(events) and set(rows) == set(events["row"])


@pytest.mark.parametrize(
    "split",
    [
        lambda e: splits.stratified_split(e, 0.75, "item", seed=1),
        lambda e: splits.random_split(e, 0.8, seed=1),
        lambda e: splits.chronological_split(e, 0.8),
        lambda e: splits.leave_last_out(e, n=2),
    ],
    ids=["stratified", "random", "chronological", "leave_last_out"],
)
def test_every_split_partitions_the_rows(events, split):
    train, test = split(events)
    assert _is_partition(events, train, test)
    assert len(test) > 0


def test_stratified_split_keeps_round_ratio_times_n_of_each_item(events):
    train, test = splits.stratified_split(events, 0.75, "item", seed=3)
    sizes = events.groupby("item_id").size()
    in_train = train.groupby("item_id").size().reindex(sizes.index, fill_value=0)
    # Recommenders 1.2.1: rank <= round(0.75 n), Python's round (half to even)
    assert (in_train == [round(0.75 * n) for n in sizes]).all()


@pytest.mark.parametrize(("n", "n_train"), [(1, 1), (2, 2), (3, 2), (4, 3), (6, 4), (10, 8)])
def test_small_groups_round_half_to_even(n, n_train):
    group = pd.DataFrame({"user_id": [f"u{i}" for i in range(n)], "item_id": "i"})
    train, test = splits.stratified_split(group, 0.75, "item", seed=0)
    assert (len(train), len(test)) == (n_train, n - n_train)


def test_stratified_split_reproduces_the_reference_procedure(events):
    """Recommenders 1.2.1: seed the global generator, draw per row, sort in each group, rank."""
    np.random.seed(9)  # noqa: NPY002 - the reference seeds the legacy global generator
    frame = events.copy()
    frame["random"] = np.random.rand(len(frame))  # noqa: NPY002
    frame = frame.sort_values(["item_id", "random"])
    groups = frame.groupby("item_id")
    count = groups["item_id"].transform("count")
    rank = groups.cumcount() + 1
    expected_train = set(frame.loc[rank <= round(0.75 * count), "row"])
    train, _ = splits.stratified_split(events, 0.75, "item", seed=9)
    assert set(train["row"]) == expected_train


@pytest.mark.mirror
@pytest.mark.parametrize(
    ("filter_by", "n_train", "n_test", "digest"),
    [("item", 75_066, 24_934, "d78b60bb4742536a"), ("user", 74_992, 25_008, "ae73cd9aa7688249")],
)
def test_movielens_100k_split_is_the_reference_split(
    mirror, tmp_path, filter_by, n_train, n_test, digest
):
    """Counts and test rows of ``python_stratified_split(seed=42)`` in recommenders 1.2.1.

    The digest is over the sorted line numbers of the test rows in ``u.data``; it was checked
    against the reference function run on the same file (the same rows, both ways).
    """
    from workbench.data.catalog import dataset_file

    path = dataset_file("ml-100k", "u.data", tmp_path, mirror)
    ratings = pd.read_csv(path, sep="\t", names=["user_id", "item_id", "rating", "timestamp"])
    train, test = splits.stratified_split(ratings, 0.75, filter_by, seed=42)
    assert (len(train), len(test)) == (n_train, n_test)
    rows = np.sort(test.index.to_numpy()).astype("<i8").tobytes()
    assert hashlib.sha256(rows).hexdigest()[:16] == digest
    if filter_by == "item":
        assert set(test["item_id"]) <= set(train["item_id"])


def test_prepare_splits_matrices_match_the_row_splits(events):
    data = splits.prepare_splits(events, "stratified", 0.75, 0.75, seed=4, filter_by="item")
    train, test = splits.stratified_split(events, 0.75, "item", seed=4)
    for part, matrix in ((train, data.train), (test, data.test)):
        rows, cols = data.users.to_index(part["user_id"]), data.items.to_index(part["item_id"])
        assert set(zip(*matrix.nonzero(), strict=True)) == set(zip(rows, cols, strict=True))
    assert list(data.items.ids) == sorted(events["item_id"].unique())
    assert list(data.users.ids) == list(pd.unique(events["user_id"]))


def test_random_splits_repeat_with_the_seed_and_change_without(events):
    first, _ = splits.stratified_split(events, seed=5)
    again, _ = splits.stratified_split(events, seed=5)
    other, _ = splits.stratified_split(events, seed=6)
    assert first["row"].tolist() == again["row"].tolist()
    assert set(first["row"]) != set(other["row"])


def test_per_user_split_keeps_every_user_in_training(events):
    train, test = splits.random_split(events, 0.8, seed=2)
    assert set(test["user_id"]) <= set(train["user_id"])


def test_chronological_split_has_no_test_row_older_than_training(events):
    train, test = splits.chronological_split(events, 0.7)
    assert train["timestamp"].max() < test["timestamp"].min()
    assert len(train) == pytest.approx(0.7 * len(events), abs=2)


def test_leave_last_out_holds_out_each_users_latest(events):
    train, test = splits.leave_last_out(events, n=1)
    assert test.groupby("user_id").size().eq(1).all()
    latest = events.groupby("user_id")["timestamp"].max()
    assert (test.set_index("user_id")["timestamp"] == latest[test["user_id"]].to_numpy()).all()
    merged = train.groupby("user_id")["timestamp"].max()
    assert (merged[test["user_id"]].to_numpy() <= test["timestamp"].to_numpy()).all()


def test_validation_is_carved_from_training_only(events):
    train, test = splits.stratified_split(events, 0.75, seed=1)
    fit, valid = splits.validation_split(train, "stratified", 0.75, seed=2)
    assert _is_partition(train, fit, valid)
    assert set(valid["row"]).isdisjoint(test["row"])


def test_bad_arguments_are_refused(events):
    with pytest.raises(ValueError, match="ratio"):
        splits.stratified_split(events, 1.5)
    with pytest.raises(ValueError, match="filter_by"):
        splits.stratified_split(events, filter_by="session")
    with pytest.raises(ValueError, match="timestamp"):
        splits.chronological_split(events.drop(columns="timestamp"))
    with pytest.raises(ValueError, match="unknown split"):
        splits.validation_split(events, "kfold")
