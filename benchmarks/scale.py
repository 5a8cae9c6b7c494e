"""How split preparation and evaluation grow with the data: wall time and peak memory.

A synthetic implicit log (Zipf-like item popularity, log-normal user activity, MovieLens 1M's
density and users per item: about 6,040 users x 3,706 items at 1M ratings) is split
with ``prepare_splits`` (per-item 75/25 and one validation fold); a popularity-leaning top-10
list per user (log popularity plus Gumbel noise of scale ``--noise``) is scored by every
metric of ``evaluation.ranking_metrics``, each timed alone (best of ``--repeats``). Each size
is reported with its growth ratio against the first one.

Personas (``--personas``): encoded user features with planted groups (``planted_users``:
five Gaussian groups of unequal sizes in 16 dimensions, overlapping) go through the whole
persona selection of ``workflows.personas.search_personas`` (the k-means sweep over 3-8
personas, then Optuna over every algorithm, ``--persona-trials`` trials, 4 bootstrap refits
each), timed with its peak memory; the chosen partition is refit and compared with the planted
groups (ARI).

    .venv/bin/python benchmarks/scale.py --ratings 100000,1000000
    .venv/bin/python benchmarks/scale.py --ratings 1000000 --noise 1.5   # lists spread out
    .venv/bin/python benchmarks/scale.py --ratings '' --personas 10000,100000

Pipeline stages (``--scales``): the default synthetic site (experiments/default.yaml's
``data.options``) with its users multiplied by each factor (items and days fixed), run stage by
stage in one process: ingestion (``workbench.data.ingest.ingest``: generate, curate, write),
personas (user features, encoding, the sampled persona search), split preparation
(``interaction_pairs`` and ``prepare_splits``), the collaborative family (``--family``, EASE by
default: the best single family on ML-100K, and at a fixed catalogue its Gram is items^2 and
its fit and top-10 scoring grow with users only; ALS would be the pick when items grow too)
fit and top-10 for every user, and evaluation (every metric of ``ranking_metrics``). Peak
memory is the process's peak resident set during the stage (Linux ``VmHWM``, reset before each
stage through ``/proc/self/clear_refs``; the data held from earlier stages counts). Growth
ratios compare consecutive scales: time and memory ratios, and the cost growth (time ratio
over events ratio, 1.0 = linear). A stage whose projected peak (the cost declaration of
``models.cost`` for the family; the previous scale's peak times the events ratio otherwise)
exceeds ``--memory-gib`` is skipped with the reason, and so is what depends on it.

    nice -n 15 .venv/bin/python benchmarks/scale.py --ratings '' --scales 10,100,1000
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
import yaml
from sklearn.metrics import adjusted_rand_score

from workbench.data import store
from workbench.data.ingest import default_settings, ingest
from workbench.data.interactions import interaction_pairs
from workbench.data.splits import prepare_splits
from workbench.evaluation import metrics, ranking_metrics, recommend_all
from workbench.features.build import build_user_features
from workbench.models import cost
from workbench.models.catalogue import get_family
from workbench.segments.personas import PersonaClusterer, make_preprocessor, persona_columns
from workbench.segments.selection import choose_trial, chosen_params
from workbench.tuning import Budget
from workbench.workflows.personas import search_personas

ROOT = Path(__file__).resolve().parents[1]
#: The persona notebook's default feature groups (notebooks/20_personas.ipynb).
PERSONA_GROUPS = ["rfm", "context", "affinity"]
STAGES = ("ingestion", "personas", "split", "collaborative", "evaluation")

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


def planted_users(n_users: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Encoded features of shape (n_users, 16) in five planted groups, and the groups.

    Group shares 35/25/20/12/8 %, centres drawn at distance about 4 apart, unit noise.
    """
    rng = np.random.default_rng(seed)
    shares = np.array([0.35, 0.25, 0.20, 0.12, 0.08])
    truth = rng.choice(len(shares), n_users, p=shares)
    centres = rng.normal(0.0, 2.0, (len(shares), 16))
    return centres[truth] + rng.normal(size=(n_users, 16)), truth


def measure_personas(n_users: int, n_trials: int) -> dict[str, float]:
    """Seconds and MiB of a persona selection on ``n_users`` planted users, and its ARI."""
    X, truth = planted_users(n_users)
    found = {}

    def select():
        _, trials = search_personas(X, Budget(n_trials, seed=0), n_personas=(3, 8))
        found["params"] = chosen_params(choose_trial(trials))

    row = {"users": float(n_users)}
    row["personas_s"], row["personas_mib"] = _timed(select, 1)
    labels = PersonaClusterer(**found["params"], random_state=0).fit(X).labels_
    row["ari"] = adjusted_rand_score(truth, labels)
    row["n_personas"] = float(len(np.unique(labels[labels >= 0])))
    sys.stderr.write(f"{n_users} users: chose {found['params']}\n")
    return row


def default_site() -> dict:
    """The default synthetic site's options and seed (experiments/default.yaml)."""
    config = yaml.safe_load((ROOT / "experiments" / "default.yaml").read_text())
    return {**config["data"]["options"], "seed": config["seed"]}


def _status_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(field)


def _staged(call):
    """``call()``, its wall seconds and the peak resident MiB of the process meanwhile.

    The peak is Linux's ``VmHWM``, reset to the current resident set before the call by
    writing 5 to ``/proc/self/clear_refs``.
    """
    Path("/proc/self/clear_refs").write_text("5")
    start = time.perf_counter()
    result = call()
    return result, time.perf_counter() - start, _status_mib("VmHWM")


def _projected(stage: str, previous: dict, events: float) -> float:
    """Projected peak MiB of ``stage``: what it added at the previous scale, grown with the
    events, over what the process holds now."""
    prior = previous.get(stage)
    if prior is None:
        return 0.0
    return _status_mib("VmRSS") + prior["added_mib"] * events / prior["events"]


def _memory_budget() -> float:
    return 0.5 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def run_scale(
    factor: float, folder: Path, family: str, n_trials: int, budget_mib: float, previous: dict
) -> list[dict]:
    """One row per stage at ``factor`` times the default site's users.

    Each row: ``stage``, ``scale``, ``users``, ``events``, ``seconds``, ``peak_mib``,
    ``added_mib`` (peak over the resident set at the start) and ``skipped`` (the reason,
    empty when the stage ran). ``previous`` maps each stage to the
    row of the scale before, for projecting memory.
    """
    site = default_site()
    n_users = max(int(round(site["n_users"] * factor)), 20)
    options = {**site, "n_users": n_users}
    events_guess = (previous.get("ingestion") or {}).get("events", 0.0)
    events_guess *= n_users / max((previous.get("ingestion") or {}).get("users", n_users), 1)
    rows, state = [], {}

    def row(stage, seconds=np.nan, peak=np.nan, skipped="", added=np.nan):
        events = float(state.get("n_events", events_guess))
        rows.append({"stage": stage, "scale": factor, "users": float(n_users),
                     "events": events, "seconds": seconds, "peak_mib": peak,
                     "added_mib": added, "skipped": skipped})  # fmt: skip

    def ingestion():
        curated = folder / f"curated-{factor:g}"
        settings = default_settings("synthetic", pseudonym_key=b"benchmark-key")
        ingest("synthetic", curated, folder / "raw", options=options, settings=settings)
        return {name: store.read_table(curated, name) for name in ("events", "users", "items")}

    def personas():
        features = build_user_features(state["events"], state["items"], state["users"])
        columns = persona_columns(list(features.columns), PERSONA_GROUPS)
        X = make_preprocessor(columns).fit_transform(features)
        _, trials = search_personas(X, Budget(n_trials, seed=0), n_personas=(3, 8))
        return chosen_params(choose_trial(trials))

    def split():
        pairs = interaction_pairs(state["events"])
        return prepare_splits(pairs, "stratified", 0.75, 0.75, 42)

    def collaborative():
        model = get_family(family).estimator().fit(state["split"].train)
        return recommend_all(model, state["split"].train, 10)

    def evaluation():
        return ranking_metrics(state["recommended"], state["split"].test, state["split"].train)

    steps = {
        "ingestion": (ingestion, None),
        "personas": (personas, "ingestion"),
        "split": (split, "ingestion"),
        "collaborative": (collaborative, "split"),
        "evaluation": (evaluation, "collaborative"),
    }
    outputs = {"ingestion": "tables", "personas": "chosen", "split": "split",
               "collaborative": "recommended", "evaluation": "metrics"}  # fmt: skip
    for stage, (call, needs) in steps.items():
        if needs is not None and outputs[needs] not in state:
            row(stage, skipped=f"needs {needs}")
            continue
        events = float(state.get("n_events", events_guess))
        projected = _projected(stage, previous, events)
        reason = ""
        if stage == "collaborative":
            n_items = state["split"].train.shape[1]
            fits, why = cost.fits(
                cost.estimate(family, n_users, n_items, state["split"].train.nnz),
                budget_mib * 2**20,
            )
            reason = "" if fits else f"{family} {why}"
        if not reason and projected > budget_mib:
            reason = f"projected {projected:,.0f} MiB > budget {budget_mib:,.0f} MiB"
        if reason:
            row(stage, skipped=reason)
            sys.stderr.write(f"scale {factor:g}: skipping {stage}: {reason}\n")
            continue
        before = _status_mib("VmRSS")
        result, seconds, peak = _staged(call)
        state[outputs[stage]] = result
        if stage == "ingestion":
            state.update(result)
            state["n_events"] = float(len(result["events"]))
        row(stage, seconds, peak, added=peak - before)
        sys.stderr.write(f"scale {factor:g}: {stage} {seconds:.1f} s, {peak:,.0f} MiB\n")
    return rows


def pipeline_table(
    factors: list[float], family: str = "ease", n_trials: int = 12, memory_gib: float = 0.0
) -> pd.DataFrame:
    """Every stage at every scale, with growth ratios against the scale before.

    Returns
    -------
    DataFrame indexed by (stage, scale)
        ``users``, ``events``, ``seconds``, ``peak_mib``, ``added_mib``, ``skipped``, and
        ``time_x``, ``memory_x``, ``events_x`` and ``growth`` (``time_x / events_x``;
        1.0 is linear), NaN at the first scale.
    """
    budget_mib = (memory_gib * 2**30 or _memory_budget()) / 2**20
    rows, previous = [], {}
    # one fit on a tiny matrix first, so that the first scale does not pay for lazy set-up
    get_family(family).estimator().fit(sp.csr_matrix(np.eye(8, dtype=np.float32)))
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as name:
        for factor in factors:
            scale_rows = run_scale(factor, Path(name), family, n_trials, budget_mib, previous)
            rows += scale_rows
            previous.update({r["stage"]: r for r in scale_rows if not r["skipped"]})
    table = pd.DataFrame(rows).set_index(["stage", "scale"]).loc[list(STAGES)]
    before = table.groupby(level="stage", sort=False).shift(1)
    table["events_x"] = table["events"] / before["events"]
    table["time_x"] = table["seconds"] / before["seconds"]
    table["memory_x"] = table["peak_mib"] / before["peak_mib"]
    table["growth"] = table["time_x"] / table["events_x"]
    return table


def _report(table: pd.DataFrame, title: str) -> None:
    seconds = [c for c in table if c.endswith("_s")]
    growth = table[seconds] / table[seconds].iloc[0]
    sys.stdout.write(f"{title}\n" + table.round(3).T.to_string() + "\n\n")
    sys.stdout.write("Growth against the first size:\n" + growth.round(2).T.to_string() + "\n\n")


def main(argv: list[str] | None = None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ratings", default="100000,1000000", help="comma-separated sizes")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--noise", type=float, default=0.4, help="Gumbel scale of the lists")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--personas", default="", help="comma-separated numbers of users")
    parser.add_argument("--persona-trials", type=int, default=12, help="sweep included")
    parser.add_argument(
        "--scales", default="", help="comma-separated multiples of the default site (10,100)"
    )
    parser.add_argument("--family", default="ease", help="collaborative family of the stages")
    parser.add_argument(
        "--memory-gib", type=float, default=0.0, help="stage memory budget; half of RAM if 0"
    )
    args = parser.parse_args(argv)
    pd.set_option("display.width", 200)
    table = pd.DataFrame()
    sizes = [int(size) for size in filter(None, args.ratings.split(","))]
    if sizes:
        table = pd.DataFrame([measure(n, args.k, args.noise, args.repeats) for n in sizes])
        table.index = pd.Index(sizes, name="ratings")
        _report(table, "Split and evaluation")
    users = [int(size) for size in filter(None, args.personas.split(","))]
    if users:
        personas = pd.DataFrame([measure_personas(n, args.persona_trials) for n in users])
        personas.index = pd.Index(users, name="users")
        _report(personas, "Persona selection")
    factors = [float(size) for size in filter(None, args.scales.split(","))]
    if factors:
        stages = pipeline_table(factors, args.family, args.persona_trials, args.memory_gib)
        shown = stages.drop(columns="skipped").round(2)
        shown["skipped"] = stages["skipped"]
        sys.stdout.write(
            "Pipeline stages (peak: resident MiB during the stage; ratios against the scale "
            "before; growth = time ratio / events ratio)\n" + shown.to_string() + "\n"
        )
        return stages
    return table


if __name__ == "__main__":
    main()
