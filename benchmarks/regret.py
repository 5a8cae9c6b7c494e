"""Regret of the tuned bandit policies over seeds: notebook 60's protocol, mean and spread.

One run of ``notebooks/60_bandits.ipynb`` is one draw of a stochastic simulation (the logs, the
trials, every policy's exploration, the users and coin flips of the online run), so this script
repeats its protocol for several seeds and reports each figure as mean ± standard deviation
(with the minimum and maximum) over them.

Data, fixed for every seed (the default pipeline's first two notebooks, with their defaults):

- ``10_ingest``: the synthetic site (2,000 users, 400 items, 30 days, data seed 42) curated by
  ``workbench.data.ingest`` into a temporary folder, pseudonymized with a fixed key (not
  ``data/secrets/pseudonym.key``), so every machine curates the same data;
- ``20_personas``: user features, the persona search (12 Optuna trials, k-means sweep first,
  seed 42) and the chosen segmenter's personas; they are the simulator's context cells.

Then for each seed ``s`` (the role of notebook 60's ``seed`` parameter; seeds are 10 apart so
the streams a seed derives never meet another seed's): ``n_logged`` uniform rounds drawn with
``s + 2`` and split in time; every family tuned on the tuning half by replay (or
``--tuning-method``; seeded TPE, ``Budget(seed=s)``, in-memory Optuna storage); the held-out
estimate against the truth (seed ``s + 1``); every tuned policy and the uniform policy online for
``horizon`` rounds (environment and policy seeds from ``s + 3``); the family with the best
held-out estimate warm-fitted on the tuning logs and valued by every off-policy estimator on the
held-out logs. Seeds run side by side in ``--jobs`` processes (BLAS on one thread each); the
figures do not depend on it. Printed: the three tables as markdown, regret and tuned parameters
per seed, and the runtime (about 8 minutes with the defaults on 2 shared cores).

    .venv/bin/python benchmarks/regret.py                      # 5 seeds, 8 trials per family
    .venv/bin/python benchmarks/regret.py --seeds 2 --n-trials 3
    .venv/bin/python benchmarks/regret.py --tuning-method dr --n-trials 5
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

import optuna
import pandas as pd
from threadpoolctl import threadpool_limits

from workbench.bandits import environments, offline, simulation
from workbench.bandits.policies import make_policy
from workbench.data import ingest
from workbench.data.curated import CuratedDataset
from workbench.features import build_user_features
from workbench.segments import cards, personas, rules, selection
from workbench.tuning import Budget
from workbench.workflows import bandits as workflow
from workbench.workflows.personas import search_personas

ROOT = Path(__file__).resolve().parents[1]
#: Pseudonym key of the benchmark's own curated copy (not a secret: the data are synthetic).
PSEUDONYM_KEY = b"benchmarks/regret.py: synthetic site"
#: ``10_ingest`` and ``20_personas`` defaults of the default pipeline.
SITE = {"n_users": 2000, "n_items": 400, "n_days": 30}
DATA_SEED = 42
PERSONAS = {
    "feature_groups": ["rfm", "context", "affinity"],
    "n_trials": 12,
    "n_personas": (3, 8),
    "n_bootstrap": 4,
    "min_stability": 0.8,
    "min_persona_share": 0.03,
    "tolerance": 0.25,
    "stable_ari": 0.95,
}
#: ``60_bandits`` defaults.
POLICIES = ["epsilon_greedy", "epsilon_decay", "ucb1", "bernoulli_ts", "linucb", "lin_ts"]
N_ARMS = 8
N_LOGGED = 20_000
TUNING_FRACTION = 0.5
N_REPLAYS = 2
N_BOOTSTRAP = 200


def curated_site(folder: Path) -> CuratedDataset:
    """The default pipeline's synthetic site, curated into ``folder`` as ``10_ingest`` does."""
    settings = ingest.default_settings("synthetic", pseudonym_key=PSEUDONYM_KEY)
    ingest.ingest(
        "synthetic", folder, folder / "raw", options=SITE, settings=settings, seed=DATA_SEED
    )
    return CuratedDataset("synthetic", folder)


def site_personas(data: CuratedDataset) -> pd.DataFrame:
    """``user_id, persona, persona_name`` as ``20_personas`` chooses them with its defaults.

    The study lives in one in-memory storage object, not ``storage=None``: ``search_personas``
    enqueues its k-means sweep in one ``create_study`` call and runs in another, and two calls
    with ``None`` would make two separate studies, losing the sweep.
    """
    storage = optuna.storages.InMemoryStorage()
    spec = rules.load_segments(ROOT / "experiments" / "segments" / "default.yaml")
    users, events = data.read("users"), data.training_events()
    features = build_user_features(events, data.read("items"), users, **spec.parameters)
    groups = PERSONAS["feature_groups"]
    columns = personas.persona_columns(list(features.columns), groups)
    X = personas.make_preprocessor(columns).fit_transform(features)
    budget = Budget(PERSONAS["n_trials"], storage, DATA_SEED, scope={"groups": groups})
    _, trials = search_personas(
        X,
        budget,
        personas.ALGORITHMS,
        PERSONAS["n_personas"],
        PERSONAS["n_bootstrap"],
        PERSONAS["min_stability"],
        PERSONAS["min_persona_share"],
    )
    chosen = selection.choose_trial(trials, PERSONAS["tolerance"], PERSONAS["stable_ari"])
    params = selection.chosen_params(chosen)
    segmenter = personas.make_segmenter(features, groups, params, DATA_SEED)
    return cards.persona_assignments(features, segmenter.fit(features).predict(features))


def one_seed(simulator, args: argparse.Namespace, seed: int) -> dict:
    """Notebook 60's sections 2-6 for ``seed``: held-out table, online summary, OPE estimates,
    and the seconds it took. BLAS runs on one thread, as seeds may run side by side."""
    started = time.perf_counter()
    with threadpool_limits(1):
        tables = _one_seed(simulator, args, seed)
    return {**tables, "seconds": time.perf_counter() - started}


def _one_seed(simulator, args: argparse.Namespace, seed: int) -> dict[str, pd.DataFrame]:
    storage = optuna.storages.InMemoryStorage()
    logs = simulator.log(N_LOGGED, random_state=seed + 2)
    tuning_logs, held_out = offline.split_logs(logs, TUNING_FRACTION)
    budget = Budget(args.n_trials, storage, seed, scope={"benchmark": "regret"})
    studies = workflow.tune_policies(
        tuning_logs,
        POLICIES,
        simulator.n_actions,
        simulator.feature_names,
        budget,
        args.tuning_method,
        N_BOOTSTRAP,
        N_REPLAYS,
    )
    tuned = {name: study.best_params for name, study in studies.items()}
    held_out_table = workflow.held_out_versus_truth(
        simulator,
        studies,
        held_out,
        method=args.tuning_method,
        n_bootstrap=N_BOOTSTRAP,
        seed=seed + 1,
        n_replays=N_REPLAYS,
    )
    best_name = held_out_table["estimate"].idxmax()
    runs = offline.online_runs(simulator, tuned, args.horizon, seed + 3)
    policy = make_policy(best_name, simulator.n_actions, random_state=seed, **tuned[best_name])
    estimates, _ = offline.value_shipped_policy(
        policy, simulator, tuning_logs, held_out, N_BOOTSTRAP, seed
    )
    return {
        "held_out": held_out_table,
        "online": environments.summarize_runs(runs),
        "ope": estimates.assign(policy=best_name),
        "params": pd.DataFrame({"params": {name: describe(p) for name, p in tuned.items()}}),
    }


def describe(params: dict) -> str:
    """``alpha 0.48, l2 1.6``: tuned parameters, three significant digits."""
    return ", ".join(
        f"{key} {value:.3g}" if isinstance(value, float) else f"{key} {value}"
        for key, value in params.items()
    )


def spread(values: pd.Series, digits: int) -> str:
    """``mean ± sd [min, max]`` of ``values`` (sd with n - 1; 0 for one value)."""
    sd = values.std(ddof=1) if len(values) > 1 else 0.0
    fmt = f"{{:.{digits}f}}"
    return (
        f"{fmt.format(values.mean())} ± {fmt.format(sd)} "
        f"[{fmt.format(values.min())}, {fmt.format(values.max())}]"
    )


def markdown(frame: pd.DataFrame) -> str:
    """``frame`` as a markdown table, index first."""
    header = [frame.index.name or "", *map(str, frame.columns)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(map(str, [name, *row])) + " |" for name, row in frame.iterrows()]
    return "\n".join(lines)


def summarize(
    per_seed: pd.DataFrame, columns: dict[str, int], by: str, ascending: bool = False
) -> pd.DataFrame:
    """One row per ``by`` value, one ``mean ± sd [min, max]`` cell per column of ``columns``
    (name -> decimals), ordered by the first column's mean (highest first by default)."""
    grouped = per_seed.groupby(by)
    table = pd.DataFrame(
        {column: grouped[column].apply(spread, digits=d) for column, d in columns.items()}
    )
    first = next(iter(columns))
    return table.loc[grouped[first].mean().sort_values(ascending=ascending).index]


def covered(per_seed: pd.DataFrame, by: str, n_seeds: int) -> pd.Series:
    """``"k of n"``: in how many seeds each ``by`` value's interval covered the truth."""
    counts = per_seed.groupby(by)["covers"].sum().astype(int)
    return counts.map(lambda k: f"{k} of {n_seeds}")


def report(results: list[dict], seeds: list[int], args: argparse.Namespace) -> None:
    """Print the held-out, online and off-policy tables over seeds, markdown-ready."""
    frames = {
        key: pd.concat(
            [
                r[key].rename_axis("name").reset_index().assign(seed=s)
                for r, s in zip(results, seeds, strict=True)
            ]
        )
        for key in ("held_out", "online", "ope", "params")
    }
    out, n_seeds = sys.stdout, len(seeds)
    out.write(f"\nSeeds {seeds}: mean ± sd [min, max] over {n_seeds} seeds\n")

    held_out = frames["held_out"]
    table = summarize(
        held_out, {"tuning_value": 3, "estimate": 3, "true_value": 3, "error": 3}, "name"
    )
    table["covers"] = covered(held_out, "name", n_seeds)
    out.write(f"\nHeld-out estimate ({args.tuning_method}) against the truth\n")
    out.write(markdown(table.rename_axis("policy")) + "\n")
    mean_abs = held_out["error"].abs().groupby(held_out["seed"]).mean()
    out.write(f"mean absolute error (per seed, over families): {spread(mean_abs, 3)}\n")

    online = frames["online"]
    table = summarize(online, {"mean_reward": 3, "regret": 0, "late_to_early": 2}, "name")
    out.write(f"\nOnline for {args.horizon} rounds\n")
    out.write(markdown(table.rename_axis("policy")) + "\n")
    by_seed = online.pivot(index="name", columns="seed", values=["regret", "late_to_early"])
    cells = by_seed["regret"].round().astype(int).astype(str) + " ("
    cells += by_seed["late_to_early"].round(2).map("{:.2f}".format) + ")"
    out.write("\nRegret (late/early) per seed\n")
    out.write(markdown(cells.loc[table.index].rename_axis("policy")) + "\n")
    params = frames["params"].pivot(index="name", columns="seed", values="params")
    out.write("\nTuned parameters per seed\n")
    out.write(markdown(params.loc[table.index.drop("uniform")].rename_axis("policy")) + "\n")

    ope = frames["ope"]
    chosen = ope.drop_duplicates("seed")["policy"].value_counts().to_dict()
    out.write(f"\nShipped policy (best held-out estimate, per seed): {chosen}\n")
    table = summarize(ope, {"relative_error": 3}, "name", ascending=True)
    table["covers"] = covered(ope, "name", n_seeds)
    out.write(markdown(table.rename_axis("estimator")) + "\n")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="how many seeds")
    parser.add_argument("--seed", type=int, default=42, help="first seed; the others follow by 10")
    parser.add_argument("--n-trials", type=int, default=8, help="Optuna trials per family")
    parser.add_argument("--horizon", type=int, default=5000, help="rounds of every online run")
    parser.add_argument(
        "--tuning-method", default="replay", help="replay, or an off-policy estimator (dr, snips)"
    )
    parser.add_argument("--jobs", type=int, default=2, help="seeds run side by side (processes)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="regret-") as tmp:
        data = curated_site(Path(tmp) / "synthetic")
        cells = site_personas(data)
        simulator = simulation.fit_simulator(
            data.training_events(), data.read_optional("items"), data.read("users"), cells,
            n_arms=N_ARMS,
        )  # fmt: skip
    best_arm = float((simulator.weights @ simulator.true_means).max())
    print(
        f"data and personas: {time.perf_counter() - started:.0f} s; {len(simulator.weights)} "
        f"persona cells, optimal value {simulator.optimal_value:.3f}, "
        f"best single arm {best_arm:.3f}",
        flush=True,
    )
    seeds = [args.seed + 10 * index for index in range(args.seeds)]
    run = partial(one_seed, simulator, args)
    jobs = max(1, min(args.jobs, len(seeds)))
    with ProcessPoolExecutor(jobs) as pool:
        results = []
        for seed, result in zip(seeds, pool.map(run, seeds), strict=True):
            print(f"seed {seed}: {result['seconds']:.0f} s", flush=True)
            results.append(result)
    report(results, seeds, args)
    print(f"\nTotal runtime {time.perf_counter() - started:.0f} s wall ({jobs} processes)")


if __name__ == "__main__":
    main()
