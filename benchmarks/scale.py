"""How split preparation and evaluation grow with the data: wall time and peak memory.

A synthetic implicit log (Zipf-like item popularity, log-normal user activity, MovieLens 1M's
density and users per item: about 6,040 users x 3,706 items at 1M ratings) is split
with ``prepare_splits`` (per-item 75/25 and one validation fold); a popularity-leaning top-10
list per user (log popularity plus Gumbel noise of scale ``--noise``) is scored by every
metric of ``evaluation.ranking_metrics``, each timed alone (best of ``--repeats``). Each size
is reported with its growth ratio against the first one.

    .venv/bin/python benchmarks/scale.py --ratings 100000,1000000
    .venv/bin/python benchmarks/scale.py --ratings 1000000 --noise 1.5   # lists spread out
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc

import numpy as np
import pandas as pd
import scipy.sparse as sp

from workbench.data.splits import prepare_splits
from workbench.evaluation import metrics, ranking_metrics

#: MovieLens 1M's density and users per item (6,040 x 3,706, 1,000,209 ratings): the shape
#: the synthetic log keeps at every size.
DENSITY, USERS_PER_ITEM = 1_000_209 / (6_040 * 3_706), 6_040 / 3_706


def synthetic_log(n_ratings: int, seed: int = 0) -> pd.DataFrame:
    """About ``n_ratings`` distinct (user, item) pairs: user_id, item_id, timestamp.

    Users' activity is log-normal and items' popularity Zipf-like (exponent 0.8); pairs are
    drawn until ``n_ratings`` distinct ones exist, in order of first draw.
    """
    rng = np.random.default_rng(seed)
    cells = n_ratings / DENSITY
    n_users = max(int(np.sqrt(cells * USERS_PER_ITEM)), 10)
    n_items = max(int(cells / n_users), 10)
    popularity = 1.0 / np.arange(1, n_items + 1) ** 0.8
    activity = rng.lognormal(0.0, 1.0, n_users)
    pairs = np.empty(0, dtype=np.int64)
    while len(pairs) < n_ratings:
        draws = 2 * (n_ratings - len(pairs)) + 100
        users = rng.choice(n_users, draws, p=activity / activity.sum())
        items = rng.choice(n_items, draws, p=popularity / popularity.sum())
        pairs = pd.unique(np.concatenate([pairs, users.astype(np.int64) * n_items + items]))
    pairs = pairs[:n_ratings]
    return pd.DataFrame({"user_id": pairs // n_items, "item_id": pairs % n_items, "timestamp": 0})


def top_lists(train: sp.csr_matrix, k: int, noise: float, seed: int = 0) -> np.ndarray:
    """ndarray of shape (n_users, k): unseen items by log popularity plus Gumbel noise."""
    rng = np.random.default_rng(seed)
    log_popularity = np.log(np.asarray(train.sum(axis=0)).ravel() + 1.0)
    lists = []
    for start in range(0, train.shape[0], 2048):
        block = train[start : start + 2048]
        scores = log_popularity[None, :] + noise * rng.gumbel(size=block.shape)
        scores[block.nonzero()] = -np.inf
        lists.append(np.argpartition(-scores, k, axis=1)[:, :k])
    return np.vstack(lists)


def _timed(call, repeats: int) -> tuple[float, float]:
    """Best wall seconds of ``repeats`` calls and the peak traced memory of one, in MiB."""
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - start)
    tracemalloc.start()
    call()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return min(seconds), peak


def measure(n_ratings: int, k: int, noise: float, repeats: int) -> dict[str, float]:
    """Seconds and MiB of each step on a synthetic log of ``n_ratings`` draws."""
    log = synthetic_log(n_ratings)
    row = {"users": float(log["user_id"].nunique()), "items": float(log["item_id"].nunique())}
    split = lambda: prepare_splits(log, "stratified", 0.75, 0.75, 42, filter_by="item")  # noqa: E731
    row["split_s"], row["split_mib"] = _timed(split, 1)
    data = split()
    recommended = top_lists(data.train, k, noise)
    row["shown_items"] = float(len(np.unique(recommended)))
    steps = {
        "all_metrics": lambda: ranking_metrics(recommended, data.test, data.train),
        "serendipity": lambda: metrics.serendipity(recommended, data.test, data.train),
        "diversity": lambda: metrics.intra_list_diversity(recommended, data.train),
        "ndcg": lambda: metrics.ndcg_at_k(recommended, data.test),
    }
    for name, call in steps.items():
        row[f"{name}_s"], row[f"{name}_mib"] = _timed(call, repeats)
    return row


def main(argv: list[str] | None = None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ratings", default="100000,1000000", help="comma-separated sizes")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--noise", type=float, default=0.4, help="Gumbel scale of the lists")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.ratings.split(",")]
    table = pd.DataFrame([measure(n, args.k, args.noise, args.repeats) for n in sizes])
    table.index = pd.Index(sizes, name="ratings")
    seconds = [c for c in table if c.endswith("_s")]
    growth = table[seconds] / table[seconds].iloc[0]
    pd.set_option("display.width", 200)
    sys.stdout.write(table.round(3).T.to_string() + "\n\nGrowth against the first size:\n")
    sys.stdout.write(growth.round(2).T.to_string() + "\n")
    return table


if __name__ == "__main__":
    main()
