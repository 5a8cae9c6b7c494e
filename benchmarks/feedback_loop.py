"""The recommender's feedback loop: a warm update against a full retrain, time and nDCG@10.

Protocol: the default pipeline's synthetic site (2,000 users, 400 items, 30 days, data seed 42,
curated as ``10_ingest`` does), its pairs split once (stratified, 75 % train, seed 42). The
"old" model is fitted on the training pairs first seen up to ``--new-days`` before the last
event (its own id maps: users and items seen by then); the new data are the whole training
part. For ALS (``implicit``'s partial fits of the changed rows) and EASE (a full refit),
with the same hyperparameters everywhere (tuned by Optuna, ``--n-trials`` seeded TPE trials,
on a stratified split of the old pairs only, as the champion was):

- **before**: the old model as served, on the new test users (unknown users get popular items);
- **warm update**: the old model carried onto the new matrix (:mod:`workbench.models.incremental`);
- **full retrain**: a cold fit on the new matrix.

All three are scored by the same per-user test nDCG@10 (the publish gate's scorer, through
external ids), with a 95 % bootstrap interval over test users; times are wall-clock seconds of
the update or fit alone.

    .venv/bin/python benchmarks/feedback_loop.py
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from workbench.data.interactions import IdMap, interaction_pairs
from workbench.data.splits import prepare_splits
from workbench.evaluation.compare import bootstrap_interval
from workbench.models import incremental
from workbench.models.catalogue import get_family
from workbench.publish import RecommenderService
from workbench.tuning import Budget
from workbench.workflows.collaborative import run_family
from workbench.workflows.results import ranking_scorer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import add_data_arguments  # noqa: E402
from conversion import curated  # noqa: E402


def old_pairs(matrices, pairs: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    """The training pairs first seen up to ``cutoff``."""
    rows = matrices.users.to_index(pairs["user_id"])
    cols = matrices.items.to_index(pairs["item_id"])
    in_train = np.asarray(matrices.train[rows, cols]).ravel() != 0
    old = pairs[in_train & (pairs["timestamp"] <= cutoff).to_numpy()]
    return old


def old_matrix(old: pd.DataFrame):
    """The old pairs as a binary matrix with its own id maps (users and items seen by then)."""
    users, items = IdMap.from_values(old["user_id"]), IdMap.from_values(old["item_id"])
    coded = (users.to_index(old["user_id"]), items.to_index(old["item_id"]))
    matrix = sp.csr_matrix((np.ones(len(old)), coded), shape=(len(users), len(items)))
    return matrix, users, items


def row(scores: np.ndarray, seconds: float | None) -> dict:
    low, high = bootstrap_interval(scores, n_bootstrap=1000, random_state=42)
    return {"ndcg@10": f"{scores.mean():.4f} [{low:.4f}, {high:.4f}]",
            "seconds": "" if seconds is None else f"{seconds:.3f}"}  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_arguments(parser)
    parser.add_argument("--new-days", type=float, default=4.0, help="days of new events")
    parser.add_argument("--n-trials", type=int, default=8, help="Optuna trials per family")
    parser.add_argument("--families", nargs="+", default=["als", "ease"])
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    mirror = Path(args.mirror) if args.mirror else None
    with tempfile.TemporaryDirectory() as folder:
        data = curated("synthetic", Path(folder) / "synthetic", mirror, Path(args.raw_dir))
        events = data.training_events()
    pairs = interaction_pairs(events)
    matrices = prepare_splits(pairs, "stratified", 0.75, 0.75, 42)
    cutoff = events["timestamp"].max() - pd.Timedelta(days=args.new_days)
    old_train = old_pairs(matrices, pairs, cutoff)
    old, old_users, old_items = old_matrix(old_train)
    # hyperparameters tuned on the old data only (a split of its pairs), as the champion was
    old_split = prepare_splits(old_train, "stratified", 0.75, 0.75, 42)
    budget = Budget(args.n_trials, None, seed=42, k=10)
    print(f"old: {old.shape[0]} users x {old.shape[1]} items, {old.nnz} pairs; new: "
          f"{matrices.train.shape[0]} x {matrices.train.shape[1]}, {matrices.train.nnz} pairs; "
          f"{matrices.test.nnz} test pairs")  # fmt: skip
    lines = ["| family | model | test nDCG@10 [95 % CI] | seconds |", "|---|---|---|---|"]
    with threadpool_limits(1, "blas"):  # as run_family fits: one BLAS thread on a shared machine
        for name in args.families:
            lines += family_rows(name, old_split, budget, (old, old_users, old_items), matrices)
    print("\n".join(lines))


def family_rows(name: str, old_split, budget, old_data, matrices) -> list[str]:
    """Markdown rows of one family: the old model as served, warm updated, and retrained."""
    old, old_users, old_items = old_data
    family = get_family(name)
    params = run_family(name, old_split, budget).params
    model = family.make(params, seed=42).fit(old)
    rows = {
        "before (old model)": row(served_scores(model, old, old_users, old_items, matrices), None)
    }
    update = incremental.warm_update(
        model, old, old_users, old_items, matrices.train, matrices.users, matrices.items
    )
    label = f"warm update ({update.method})"
    scores = served_scores(model, matrices.train, matrices.users, matrices.items, matrices)
    rows[label] = row(scores, update.seconds)
    start = time.perf_counter()
    cold = family.make(params, seed=42).fit(matrices.train)
    seconds = time.perf_counter() - start
    scores = served_scores(cold, matrices.train, matrices.users, matrices.items, matrices)
    rows["full retrain"] = row(scores, seconds)
    print(f"{name} {params}: {update.as_dict()}")
    return [f"| {name} | {label} | {r['ndcg@10']} | {r['seconds']} |" for label, r in rows.items()]


def served_scores(model, user_items, users, items, matrices) -> np.ndarray:
    """Per-user test nDCG@10 of ``model`` served behind its own ids (the gate's scorer)."""
    served = RecommenderService.from_fitted(model, user_items, users, items)
    return ranking_scorer(matrices, 10)(lambda request: served.predict(None, request))


if __name__ == "__main__":
    main()
