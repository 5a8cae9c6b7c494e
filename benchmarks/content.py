"""Content-based, hybrid and two-tower recommenders on MovieLens: cold start and the 100K reference.

Part ``coldstart``: MovieLens latest-small with TMDB 5000 overviews, taglines, keywords and
genres (joined through ``links.csv``) and the users' tags as item text. A cold-start split
withholds 10% of the movies from training entirely and splits the other ratings per movie
75/25 (seed 42); a validation split is carved from the training part the same way (seed 43)
and every hyperparameter is chosen on it (``hybrid_coldstart``: the blend chosen for nDCG on
the cold-start validation pairs only). nDCG@10 of popularity, the collaborative families,
content-based, hybrid and two-tower models, on all test ratings and on the cold-start subset
(test ratings of movies with fewer than N = 5 training ratings, withheld ones included), and
the cold-only protocol: each user's withheld movies ranked among the withheld movies only,
beside the genre-popularity baseline with paired bootstrap 95% intervals over users.

Part ``ml100k``: the two-tower model under the Microsoft Recommenders protocol of
``../shared/BENCHMARKS.md`` (per-item stratified 75/25, seed 42, k = 10), beside the
reference table. The temperature is chosen and the number of epochs early-stopped on a
validation split carved from the training part (seed 43); the final model trains that many
epochs on the whole training part, and that training is timed (wall and CPU seconds).

    .venv/bin/python benchmarks/content.py                     # both parts
    .venv/bin/python benchmarks/content.py --part ml100k
    .venv/bin/python benchmarks/content.py --part coldstart --n-trials 8
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from common import add_data_arguments

from workbench.data.coldstart import prepare_cold_start, split_summary
from workbench.data.curate import CurationSettings, curate
from workbench.data.interactions import weighted_pairs
from workbench.data.sources.movielens import load_100k, load_latest_small
from workbench.data.splits import prepare_splits
from workbench.evaluation import evaluate
from workbench.evaluation.early_stopping import EarlyStopping
from workbench.models import neural
from workbench.tuning import Budget
from workbench.workflows import content
from workbench.workflows.collaborative import compare_families
from workbench.workflows.results import (
    FamilyResult,
    comparison_table,
    select_best,
    table_columns,
)

ROOT = Path(__file__).resolve().parents[1]
COLDSTART_COLUMNS = ["ndcg_at_10", "coldstart_ndcg_at_10", "recall_at_10", "coldstart_recall_at_10"]


def _movielens_benchmark():
    """``benchmarks/movielens.py`` as a module, for its reference table and report."""
    spec = importlib.util.spec_from_file_location(
        "movielens_benchmark", ROOT / "benchmarks" / "movielens.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_arguments(parser)
    parser.add_argument("--part", choices=["coldstart", "ml100k", "all"], default="all")
    parser.add_argument("--families", default="popularity,item_knn,ease", help="CF families")
    parser.add_argument("--n-trials", type=int, default=6, help="Optuna trials per model")
    parser.add_argument(
        "--two-tower-trials", type=int, default=0, help="0: defaults, early-stopped"
    )
    parser.add_argument("--temperatures", default="0.1,0.2,0.3", help="100K: grid on validation")
    parser.add_argument("--cold-fraction", type=float, default=0.1)
    parser.add_argument("--max-interactions", type=int, default=5, help="N of the cold subset")
    parser.add_argument("--n-bootstrap", type=int, default=1000, help="cold-only intervals")
    parser.add_argument("--threads", type=int, default=2, help="TensorFlow threads")
    parser.add_argument("--seed", type=int, default=42)
    return parser.parse_args(argv)


def coldstart(args, storage: str) -> pd.DataFrame:
    """The latest-small cold-start table."""
    mirror = Path(args.mirror) if args.mirror else None
    tables = load_latest_small(Path(args.raw_dir), mirror, with_tmdb=True)
    settings = CurationSettings(pseudonym_key=b"benchmark-key")  # typed events, as stored
    tables["events"] = curate(tables, settings).tables["events"]
    pairs = weighted_pairs(tables["events"], half_life_days=None)
    data = prepare_cold_start(pairs, args.cold_fraction, 0.75, args.max_interactions, args.seed)
    inputs = content.content_inputs(tables["events"], tables["items"], data, 64, args.seed)
    scope = {"benchmark": "ml-latest-small", "cold_fraction": args.cold_fraction}
    budget = Budget(args.n_trials, storage, args.seed, 10, scope=scope)
    results = compare_families(args.families.split(","), data.matrices, budget)
    content.add_cold_metrics(results, data)
    best_cf = select_best([r for r in results if r.name != "popularity"] or results)
    base = {"max_epochs": 30, "negatives": "in_batch", "batch_size": 512}
    results += content.run_models(inputs, best_cf, budget, base, args.two_tower_trials)
    results.append(content.genre_popularity(inputs))
    table = comparison_table(results)
    cold_only = content.cold_only_table(results, data, 10, args.n_bootstrap, args.seed)
    table = table.join(cold_only, how="outer")
    out = sys.stdout
    out.write("\nMovieLens latest-small + TMDB, cold-start split (10% of movies withheld), k=10\n")
    out.write(split_summary(data).to_string() + "\n")
    out.write(f"cold-only protocol: {cold_only.attrs}\n\n")
    timing = ["valid_ndcg_at_10", "fit_seconds"]
    columns = COLDSTART_COLUMNS + list(cold_only.columns) + timing
    out.write(table[columns].round(4).to_string() + "\n")
    for result in results:
        out.write(f"  {result.name}: {result.params}\n")
    return table


def _probe(data, temperature: float, seed: int) -> EarlyStopping:
    """Early stopping of the default two-tower model at ``temperature`` on validation."""
    stopping = EarlyStopping(data.fit, data.valid, k=10)
    model = neural.TwoTowerRecommender(temperature=temperature, random_state=seed)
    model.fit(data.fit, callback=stopping)
    return stopping


def ml100k(args) -> pd.DataFrame:
    """The two-tower model under the reference protocol, beside the reference table."""
    mirror = Path(args.mirror) if args.mirror else None
    events = load_100k(Path(args.raw_dir), mirror)["events"]
    data = prepare_splits(events, "stratified", 0.75, 0.75, args.seed, filter_by="item")
    probes = {t: _probe(data, float(t), args.seed) for t in args.temperatures.split(",")}
    scores = {t: p.best_score for t, p in probes.items()}
    chosen = max(scores, key=scores.get)
    params = {"temperature": float(chosen), "max_epochs": probes[chosen].best_epoch}
    final = neural.TwoTowerRecommender(**params, random_state=args.seed)
    wall, cpu = time.perf_counter(), time.process_time()
    final.fit(data.train)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    metrics = evaluate(final, data.train, data.test, k=10)
    metrics.update(fit_seconds=wall, fit_cpu_seconds=cpu)
    result = FamilyResult("two_tower", final, params, scores[chosen], metrics, len(probes))
    table = comparison_table([result])
    reference = _movielens_benchmark().REFERENCE
    out = sys.stdout
    out.write("\nMovieLens 100K, stratified per-item 75/25 split, seed 42, k=10\n")
    out.write(f"validation nDCG@10 by temperature: {scores}\n")
    columns = table_columns(10) + ["fit_seconds", "fit_cpu_seconds", "valid_ndcg_at_10"]
    out.write(table[columns].round(4).to_string() + "\n\nReference:\n")
    out.write(reference.to_string() + "\n")
    out.write(f"chosen: {params}\n")
    return table


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    neural.limit_threads(args.threads)
    if args.part in ("ml100k", "all"):
        ml100k(args)
    if args.part in ("coldstart", "all"):
        with tempfile.TemporaryDirectory() as tmp:
            coldstart(args, f"sqlite:///{tmp}/optuna.db")


if __name__ == "__main__":
    main()
