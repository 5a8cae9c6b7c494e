"""Conversion and click models on three data sets: test figures with bootstrap intervals.

Protocol (notebook 50's, :mod:`workbench.workflows.conversion`), per data set:

- **synthetic**: the default pipeline's site (2,000 users, 400 items, 30 days, data seed 42)
  curated by ``workbench.data.ingest`` into a temporary folder with a fixed pseudonym key; a
  purchase within 4 days of each cut-off; 3 training cut-offs 2 days apart, one validation and
  one test cut-off (nested: no label window reaches the next part). The oracle is the planted
  true probability (``synthetic.conversion_probability``).
- **online-retail**: UCI Online Retail curated the same way from the mirror; a purchase within
  90 days; 2 training cut-offs 30 days apart. Baselines: the RFM score rule and BG/NBD.
- **obd**: the Open Bandit Dataset sample, random-policy log of the ``all`` campaign: click
  prediction per impression from the user features, the item's features and the position; the
  first 70 % of rows (in time) for training (of which the last 30 % validate), the last 30 %
  held out. Baselines: each position's click-through rate and logistic regression.
- **dwell**: the synthetic site's dwell times after each cut-off, regressed on what was known at
  the cut-off, against the planted model (:func:`dwell_rows`);
- **incremental**: a model fitted one horizon ago, updated by a warm start against a full
  retrain on the new data, time and quality side by side (:func:`incremental_rows`).

Every learned model is tuned with Optuna (seeded TPE, ``--n-trials``) on validation only,
calibrated there (isotonic or sigmoid by log loss) and scored once on test: ROC-AUC, PR-AUC,
log loss, Brier, ECE and top-decile lift, each with a 95 % bootstrap interval over test rows,
and the fit time. Printed as one markdown table per data set.

    .venv/bin/python benchmarks/conversion.py
    .venv/bin/python benchmarks/conversion.py --datasets synthetic obd --n-trials 4
    .venv/bin/python benchmarks/conversion.py --datasets incremental
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
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import Ridge
from threadpoolctl import threadpool_limits

from workbench.data import ingest
from workbench.data.curated import CuratedDataset
from workbench.data.sources import obd, synthetic
from workbench.evaluation import classification
from workbench.evaluation.compare import bootstrap_interval
from workbench.features import labels
from workbench.models import conversion as models
from workbench.publish.conversion import ConversionModel
from workbench.tuning import Budget
from workbench.workflows import conversion

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import add_data_arguments  # noqa: E402

PSEUDONYM_KEY = b"benchmarks/conversion.py"
SITE = {"n_users": 2000, "n_items": 400, "n_days": 30}
SETTINGS = {
    "synthetic": {"horizon_days": 4.0, "n_train": 3, "step_days": 2.0},
    "online-retail": {"horizon_days": 90.0, "n_train": 2, "step_days": 30.0},
}
FAMILIES = ["rfm", "bgnbd", "logistic", "hgb"]
SHOWN = ["roc_auc", "pr_auc", "log_loss", "brier", "ece", "top_decile_lift"]


def curated(source: str, folder: Path, mirror: Path | None, raw_dir: Path) -> CuratedDataset:
    """``source`` curated into ``folder`` as ``10_ingest`` does, with a fixed pseudonym key."""
    settings = ingest.default_settings(source, pseudonym_key=PSEUDONYM_KEY)
    options = SITE if source == "synthetic" else None
    ingest.ingest(source, folder, raw_dir, mirror, options=options, settings=settings, seed=42)
    return CuratedDataset(source, folder)


def conversion_rows(name: str, data: CuratedDataset, n_trials: int, n_bootstrap: int) -> dict:
    """Each family's test figures on ``data`` (and the oracle's AUC on synthetic)."""
    settings = SETTINGS[name]
    users = data.read("users")
    start = time.perf_counter()
    snapshots = conversion.prepare(
        data.training_events(), data.read("items"), users, settings["horizon_days"],
        settings["n_train"], 1, settings["step_days"],
    )  # fmt: skip
    log_line = {
        part: (len(t), round(t["converted"].mean(), 3)) for part, t in snapshots.parts.items()
    }
    print(f"\n{name}: snapshots (rows, conversion rate) {log_line} "
          f"in {time.perf_counter() - start:.1f} s; cut-offs {snapshots.cutoffs}")  # fmt: skip
    budget = Budget(n_trials, None, seed=42, scope={"data": name})
    rows = {}
    for family in FAMILIES:
        result = conversion.run_family(family, snapshots, budget, n_bootstrap)
        rows[family] = {**result.metrics, "calibration": result.calibration,
                        "valid_roc_auc": result.valid_score}  # fmt: skip
    truth = conversion.planted_probability(users, settings["horizon_days"])
    if truth is not None:
        _, y = snapshots.xy("test")
        p = truth.reindex(snapshots.parts["test"].index).to_numpy(float)
        table = classification.bootstrap_metrics(y, p, n_bootstrap, random_state=42)
        rows["oracle (true p)"] = conversion.interval_metrics(table)
    return rows


def incremental_rows(data: CuratedDataset, n_trials: int, n_bootstrap: int) -> dict:
    """A model fitted on the data up to one horizon ago, then updated: warm start vs retrain.

    ``before``: gradient boosting tuned and fitted on the events up to ``end - horizon``. With
    the new events (the last ``horizon`` days), ``full retrain`` tunes and fits anew on the new
    snapshots (every cut-off moved on by one horizon), ``warm start`` continues the previous
    model on them (:func:`workbench.workflows.conversion.warm_update`), without tuning. Both
    are scored on the same new test cut-off; times cover tuning, fitting and calibration.
    """
    settings = SETTINGS["synthetic"]
    events, items, users = data.training_events(), data.read("items"), data.read("users")
    horizon = pd.Timedelta(days=settings["horizon_days"])
    old = events[events["timestamp"] <= events["timestamp"].max().ceil("D") - horizon]
    arguments = (settings["horizon_days"], settings["n_train"], 1, settings["step_days"])
    before = conversion.prepare(old, items, users, *arguments)
    after = conversion.prepare(events, items, users, *arguments)
    budget = Budget(n_trials, None, seed=42)
    start = time.perf_counter()
    previous = conversion.run_family("hgb", before, budget.within(data="before"), n_bootstrap)
    rows = {"before (old data, old test cut-off)": {**previous.metrics,
            "fit_seconds": time.perf_counter() - start}}  # fmt: skip
    start = time.perf_counter()
    retrained = conversion.run_family("hgb", after, budget.within(data="after"), n_bootstrap)
    rows["full retrain (tune + fit)"] = {**retrained.metrics,
                                         "fit_seconds": time.perf_counter() - start}  # fmt: skip
    features, _ = before.xy("test")
    model = ConversionModel(previous.model, list(features.columns), 4.0)
    warm = conversion.warm_update(model, after, 42, n_bootstrap)
    rows["warm start (update + recalibrate)"] = warm.metrics
    print(f"\nincremental update on synthetic: {len(events) - len(old)} new events; "
          f"warm start changes {warm.params}")  # fmt: skip
    return rows


def dwell_rows(data: CuratedDataset) -> dict:
    """Dwell time of the views after each cut-off, regressed on what was known at it.

    Training views follow the training cut-offs, test views the test cut-off (synthetic site,
    notebook 50's cut-offs). Models: the training mean, ridge regression and gradient boosting
    on the viewer's device, their affinity to the item's category and the category; the
    oracle is the planted model's mean (``synthetic.DWELL_MODEL``, the click effect averaged
    over the click rate). Scored by R^2 and RMSE of log dwell, with a bootstrap interval of
    the mean squared error over test views.
    """
    settings = SETTINGS["synthetic"]
    events, items, users = data.training_events(), data.read("items"), data.read("users")
    snapshots = conversion.prepare(events, items, users, settings["horizon_days"],
                                   settings["n_train"], 1, settings["step_days"])  # fmt: skip
    views = {}
    for part, table in snapshots.parts.items():
        frames = [labels.dwell_snapshot(events, items, group, cutoff, settings["horizon_days"])
                  for cutoff, group in table.groupby("cutoff")]  # fmt: skip
        views[part] = pd.concat(frames, ignore_index=True)
    train, test = pd.concat([views["train"], views["valid"]]), views["test"]
    categories = sorted(train["category"].unique())
    y_train, y_test = train["log_dwell"].to_numpy(), test["log_dwell"].to_numpy()
    predictions = {"training mean": np.full(len(test), y_train.mean())}
    with threadpool_limits(1):
        for name, model in (("ridge", Ridge(1.0)), ("hgb", HistGradientBoostingRegressor(
                max_iter=100, random_state=42))):  # fmt: skip
            predictions[name] = model.fit(_design(train, categories), y_train).predict(
                _design(test, categories)
            )
    segment = users.set_index("user_id")["planted_segment"].reindex(test["user_id"]).to_numpy()
    favourite = {s.name: synthetic.CATEGORIES[int(np.argmax(s.categories))]
                 for s in synthetic.SEGMENTS}  # fmt: skip
    liked = pd.Series(segment).map(favourite).to_numpy() == test["category"].to_numpy()
    truth = synthetic.DWELL_MODEL
    predictions["oracle (planted mean)"] = (
        truth["intercept"] + truth["favourite"] * liked + truth["mobile"] * test["mobile"]
        + truth["clicked"] * synthetic.CLICK_RATE
    ).to_numpy()  # fmt: skip
    rows = {}
    for name, predicted in predictions.items():
        squared = (y_test - predicted) ** 2
        lower, upper = bootstrap_interval(squared, n_bootstrap=200, random_state=42)
        rows[name] = {"r2": 1 - squared.mean() / y_test.var(), "rmse": np.sqrt(squared.mean()),
                      "mse": squared.mean(), "mse_lower": lower, "mse_upper": upper}  # fmt: skip
    print(f"\ndwell: {len(train)} training and {len(test)} test views (log seconds)")
    print("| model | R^2 | RMSE | MSE [95 % interval] |\n|---|---|---|---|")
    for name, row in rows.items():
        print(f"| {name} | {row['r2']:.3f} | {row['rmse']:.3f} | {row['mse']:.4f} "
              f"[{row['mse_lower']:.4f}, {row['mse_upper']:.4f}] |")  # fmt: skip
    return rows


def _design(views: pd.DataFrame, categories: list[str]) -> np.ndarray:
    """Device, affinity (0 when unknown) and one-hot category, shape (n_views, 2 + n_cat)."""
    one_hot = views["category"].to_numpy()[:, None] == np.asarray(categories)[None, :]
    known = views[["mobile", "affinity"]].fillna(0.0).to_numpy(float)
    return np.hstack([known, one_hot.astype(float)])


def click_data(mirror: Path | None, raw_dir: Path) -> dict[str, tuple[pd.DataFrame, np.ndarray]]:
    """OBD random/all impressions as (features, clicks), split in time 49/21/30 %."""
    tables = obd.load(raw_dir, mirror, "random", "all")
    logs, items = tables["bandit_logs"], tables["item_context"].set_index("item_id")
    users, _ = obd.user_feature_matrix(logs)
    item_features = pd.get_dummies(items.drop(columns="item_feature_0").astype(str)).astype(float)
    item_features["price"] = items["item_feature_0"]
    chosen = item_features.reindex(logs["action"].to_numpy()).to_numpy()
    affinity = logs.filter(like="user_item_affinity_").to_numpy()
    frame = pd.DataFrame(
        np.hstack([users, chosen, np.eye(3)[logs["position"]],
                   affinity[np.arange(len(logs)), logs["action"]][:, None]]),
        columns=[f"user_{i}" for i in range(users.shape[1])] + list(item_features.columns)
        + ["position_0", "position_1", "position_2", "affinity"],
    )  # fmt: skip
    frame["position"] = logs["position"].to_numpy(float)
    y = logs["reward"].to_numpy(float)
    cut_test, cut_valid = int(0.7 * len(y)), int(0.49 * len(y))
    return {
        "train": (frame.iloc[:cut_valid], y[:cut_valid]),
        "valid": (frame.iloc[cut_valid:cut_test], y[cut_valid:cut_test]),
        "test": (frame.iloc[cut_test:], y[cut_test:]),
    }


def click_rows(parts: dict, n_trials: int, n_bootstrap: int) -> dict:
    """Position CTR, logistic regression and gradient boosting on held-out impressions."""
    (x_train, y_train), valid, (x_test, y_test) = parts["train"], parts["valid"], parts["test"]
    rows = {}
    start = time.perf_counter()
    rates = pd.Series(y_train).groupby(x_train["position"].to_numpy()).mean()
    p = rates.reindex(x_test["position"].to_numpy()).fillna(y_train.mean()).to_numpy()
    rows["position CTR"] = _scored(y_test, p, n_bootstrap, time.perf_counter() - start)
    for name, family in (("logistic", "logistic"), ("hgb", "hgb")):
        spec = models.get_family(name)
        study = optuna.create_study(
            direction="maximize", sampler=optuna.samplers.TPESampler(seed=42)
        )
        study.optimize(lambda trial, spec=spec: _valid_auc(spec, trial, parts), n_trials=n_trials)
        start = time.perf_counter()
        with threadpool_limits(1):
            model, method = models.fit_family(family, study.best_params, parts["train"], valid)
        p = model.predict_proba(x_test)[:, 1]
        rows[name] = {**_scored(y_test, p, n_bootstrap, time.perf_counter() - start),
                      "calibration": method}  # fmt: skip
    return rows


def _valid_auc(spec, trial, parts) -> float:
    with threadpool_limits(1):
        model = spec.make(spec.suggest(trial), 0.0, 42).fit(*parts["train"])
        features, y = parts["valid"]
        return classification.roc_auc(y, model.predict_proba(features)[:, 1])


def _scored(y, p, n_bootstrap: int, fit_seconds: float) -> dict:
    table = classification.bootstrap_metrics(y, p, n_bootstrap, random_state=42)
    return {**conversion.interval_metrics(table), "fit_seconds": fit_seconds}


def markdown(rows: dict) -> str:
    """One row per model: each metric as ``value [lower, upper]``, then the fit time."""
    lines = ["| model | " + " | ".join(SHOWN) + " | fit s | calibration | valid AUC |",
             "|---" * (len(SHOWN) + 4) + "|"]  # fmt: skip
    for model, figures in rows.items():
        cells = [f"{figures[m]:.3f} [{figures[m + '_lower']:.3f}, {figures[m + '_upper']:.3f}]"
                 for m in SHOWN]  # fmt: skip
        seconds = figures.get("fit_seconds")
        valid = figures.get("valid_roc_auc")
        cells += ["" if seconds is None else f"{seconds:.2f}", figures.get("calibration", ""),
                  "" if valid is None else f"{valid:.3f}"]  # fmt: skip
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_arguments(parser)
    parser.add_argument(
        "--datasets",
        nargs="+",
        default=["synthetic", "online-retail", "obd", "dwell", "incremental"],
    )
    parser.add_argument("--n-trials", type=int, default=8, help="Optuna trials per family")
    parser.add_argument("--n-bootstrap", type=int, default=200)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    mirror = Path(args.mirror) if args.mirror else None
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        for name in args.datasets:
            if name == "dwell":
                dwell_rows(curated("synthetic", Path(folder) / "dwell", mirror, Path(args.raw_dir)))
                continue
            if name == "incremental":
                data = curated(
                    "synthetic", Path(folder) / "incremental", mirror, Path(args.raw_dir)
                )
                rows = incremental_rows(data, args.n_trials, args.n_bootstrap)
            elif name == "obd":
                rows = click_rows(click_data(mirror, Path(args.raw_dir)), args.n_trials,
                                  args.n_bootstrap)  # fmt: skip
                print("\nobd: click prediction on held-out impressions (random policy, all)")
            else:
                data = curated(name, Path(folder) / name, mirror, Path(args.raw_dir))
                rows = conversion_rows(name, data, args.n_trials, args.n_bootstrap)
            print(markdown(rows))
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
