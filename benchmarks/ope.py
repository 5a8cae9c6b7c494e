"""Off-policy evaluation on the Open Bandit Dataset sample, beside the reference figures.

Protocol (``../shared/BENCHMARKS.md``): estimate the value of the Bernoulli TS policy from the
logs of the uniform-random policy, by every estimator; the truth is the ``bts`` logs' observed
click rate; relative error = |estimate - truth| / truth, averaged over 30 bootstrap resamples of
the random logs (the reward model is refitted on each resample).

The evaluation policy's action distribution is NOT OBP's simulation of Bernoulli TS with the
production prior (not shipped with the sample): it is the empirical frequency of each item at
each position in the ``bts`` logs (BTS is context-free), as BENCHMARKS.md describes. The reward
model of DM and the DR family is a logistic regression on [one-hot user features, one-hot
position, one-hot item], cross-fitted over 3 folds. Switch-DR uses tau = 5.

A replay comparison of policies on the random logs (Li et al. 2010) follows: every impression
is a round, a policy's choice counts when it equals the logged item; averaged over shuffles.

    .venv/bin/python benchmarks/ope.py
    .venv/bin/python benchmarks/ope.py --n-runs 5 --campaigns all --no-replay
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
from common import add_data_arguments
from tqdm.auto import tqdm

from workbench.bandits.environments import replay
from workbench.bandits.ope import all_estimators, empirical_action_dist, fit_reward_model
from workbench.bandits.policies import make_policy
from workbench.data.sources import obd

REFERENCE = {
    "dm": 0.157,
    "ips": 0.311,
    "snips": 0.312,
    "dr": 0.292,
    "sndr": 0.302,
    "switch_dr": 0.258,
}
REFERENCE_IPS_EMPIRICAL = {"all": 0.20, "men": 0.18, "women": 0.26}
N_POSITIONS = 3
REPLAY_POLICIES = {
    "uniform": {},
    "epsilon_greedy": {"epsilon": 0.1},
    "ucb1": {"alpha": 0.1},
    "bernoulli_ts": {},
    "linucb": {"alpha": 0.1},
    "lin_ts": {"scale": 0.1},
}


def features(logs: pd.DataFrame, categories: dict | None = None) -> tuple[np.ndarray, dict]:
    """[one-hot user features, one-hot position] of every impression."""
    users, categories = obd.user_feature_matrix(logs, categories)
    return np.hstack([users, np.eye(N_POSITIONS)[logs["position"].to_numpy()]]), categories


def estimate_once(
    sample: pd.DataFrame, policy: np.ndarray, n_actions: int, truth: float, seed: int
) -> list[dict]:
    """Every estimator's value of ``policy`` on one sample of the random logs."""
    contexts, _ = features(sample)
    estimated = fit_reward_model(
        contexts, sample["action"], sample["reward"], n_actions, n_folds=3, random_state=seed
    )
    action_dist = policy[:, sample["position"].to_numpy()].T
    rows = []
    for name, estimator in all_estimators().items():
        value = estimator.estimate_policy_value(
            sample["reward"], sample["action"], sample["propensity"], action_dist, estimated
        )
        rows.append(
            {
                "estimator": name,
                "value": value,
                "truth": truth,
                "relative_error": abs(value - truth) / truth,
            }
        )
    return rows


def evaluate_campaign(
    random_logs: pd.DataFrame, bts_logs: pd.DataFrame, n_runs: int, seed: int
) -> pd.DataFrame:
    """Estimates and relative errors on the full logs (``run`` -1) and ``n_runs`` bootstraps."""
    n_actions = int(max(random_logs["action"].max(), bts_logs["action"].max())) + 1
    policy = empirical_action_dist(bts_logs["action"], bts_logs["position"], n_actions, N_POSITIONS)
    truth = float(bts_logs["reward"].mean())
    rows = [
        {"run": -1, **row} for row in estimate_once(random_logs, policy, n_actions, truth, seed)
    ]
    rng = np.random.RandomState(seed)
    for run in tqdm(range(n_runs), desc="bootstrap runs", leave=False):
        sample = random_logs.iloc[rng.randint(0, len(random_logs), len(random_logs))]
        rows += [
            {"run": run, **row} for row in estimate_once(sample, policy, n_actions, truth, run)
        ]
    return pd.DataFrame(rows)


def replay_table(logs: pd.DataFrame, n_shuffles: int, seed: int) -> pd.DataFrame:
    """Replay value of each policy on the uniform logs, over shuffled orders of the rounds."""
    n_actions = int(logs["action"].max()) + 1
    contexts, _ = features(logs)
    rows = []
    for shuffle in tqdm(range(n_shuffles), desc="replay shuffles", leave=False):
        order = np.random.RandomState(seed + shuffle).permutation(len(logs))
        for name, params in REPLAY_POLICIES.items():
            policy = make_policy(name, n_actions, random_state=shuffle, **params)
            result = replay(
                policy,
                logs["action"].to_numpy()[order],
                logs["reward"].to_numpy()[order],
                contexts[order],
                logs["propensity"].to_numpy()[order],
            )
            rows.append(
                {
                    "policy": name,
                    "shuffle": shuffle,
                    "value": result.value,
                    "n_matched": result.n_matched,
                }
            )
    table = pd.DataFrame(rows).groupby("policy", sort=False)
    summary = table.agg(
        value=("value", "mean"), value_std=("value", "std"), n_matched=("n_matched", "mean")
    )
    summary["ctr_vs_random"] = summary["value"] / logs["reward"].mean()
    return summary


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_arguments(parser)
    parser.add_argument("--n-runs", type=int, default=30, help="bootstrap resamples")
    parser.add_argument("--campaigns", default="all,men,women")
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--n-shuffles", type=int, default=5, help="replay orders")
    parser.add_argument("--no-replay", action="store_true")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    mirror = Path(args.mirror) if args.mirror else None
    raw_dir = Path(args.raw_dir)
    campaigns = args.campaigns.split(",")
    errors, values, full = {}, {}, {}
    for campaign in campaigns:
        started = time.perf_counter()
        random_logs = obd.load(raw_dir, mirror, "random", campaign)["bandit_logs"]
        bts_logs = obd.load(raw_dir, mirror, "bts", campaign)["bandit_logs"]
        results = evaluate_campaign(random_logs, bts_logs, args.n_runs, args.seed)
        full[campaign] = results[results["run"] < 0].set_index("estimator")["relative_error"]
        by_estimator = results[results["run"] >= 0].groupby("estimator", sort=False)
        errors[campaign] = by_estimator["relative_error"].mean()
        values[campaign] = by_estimator["value"].mean()
        print(
            f"{campaign}: truth (bts click rate) {results['truth'].iloc[0]:.5f}, random click "
            f"rate {random_logs['reward'].mean():.5f}, {time.perf_counter() - started:.1f} s"
        )
    table = pd.DataFrame(errors)
    table["reference (OBP, all)"] = pd.Series(REFERENCE)
    print(f"\nRelative error of the BTS policy value, mean over {args.n_runs} bootstrap runs")
    print(table.round(3).to_string())
    print("\nRelative error of the estimate on the full random logs (no resampling)")
    print(pd.DataFrame(full).round(3).to_string())
    print("\nMean estimate over the bootstrap runs")
    print(pd.DataFrame(values).round(5).to_string())
    print(
        "\nBENCHMARKS.md, plain IPS on the full logs with the empirical BTS distribution: "
        f"{REFERENCE_IPS_EMPIRICAL}"
    )
    if not args.no_replay:
        logs = obd.load(raw_dir, mirror, "random", "all")["bandit_logs"]
        print(f"\nReplay on random/all ({len(logs)} impressions, {args.n_shuffles} orders)")
        print(replay_table(logs, args.n_shuffles, args.seed).round(5).to_string())


if __name__ == "__main__":
    main()
