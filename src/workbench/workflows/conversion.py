"""The conversion experiment: snapshots, tuning on validation, calibration, one test evaluation.

Shared by ``notebooks/50_conversion.ipynb`` and ``benchmarks/conversion.py``:

1. :func:`prepare`: nested rolling cut-offs and their snapshots
   (:mod:`workbench.features.labels`): features up to each cut-off, labels in the horizon after;
2. :class:`ConversionObjective`: a trial fits a family on the training cut-offs and scores
   ROC-AUC on the validation cut-offs (never the test one);
3. :func:`run_family`: the study, the best configuration refit on the training cut-offs,
   calibrated on the validation ones (isotonic or sigmoid, by log loss), evaluated once on the
   test cut-off with bootstrap intervals;
4. :func:`compare_families`: ``run_family`` for each family in its own nested run;
   :func:`publish_result`: the chosen model as ``<data set>-conversion`` through the gate.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import optuna
import pandas as pd
from sklearn.inspection import permutation_importance
from threadpoolctl import threadpool_limits

from workbench import tuning
from workbench.evaluation import classification
from workbench.features import labels
from workbench.models import conversion
from workbench.models.offers import rank_offers
from workbench.publish import Published, publish
from workbench.publish.conversion import ConversionModel
from workbench.workflows.feedback import load_champion  # noqa: F401  (notebook 50's)
from workbench.workflows.results import tracked

log = logging.getLogger(__name__)


@dataclass
class ConversionData:
    """Snapshots of one data set: features (numeric), labels and revenue per part.

    Attributes
    ----------
    cutoffs : Cutoffs
    parts : dict of str to DataFrame
        ``train``, ``valid``, ``test`` snapshot tables (features, ``cutoff`` and labels).
    """

    cutoffs: labels.Cutoffs
    parts: dict[str, pd.DataFrame]

    def xy(self, part: str) -> tuple[pd.DataFrame, np.ndarray]:
        """Numeric features of shape (n_rows, n_features) and 0/1 labels (n_rows,)."""
        features, y, _ = labels.split_xy(self.parts[part])
        return conversion.numeric_features(features), y

    def revenue(self, part: str) -> np.ndarray:
        return self.parts[part]["revenue"].to_numpy(float)

    @property
    def horizon_days(self) -> float:
        return self.cutoffs.horizon_days


def prepare(
    events: pd.DataFrame,
    items: pd.DataFrame,
    users: pd.DataFrame,
    horizon_days: float,
    n_train: int = 2,
    n_valid: int = 1,
    step_days: float | None = None,
) -> ConversionData:
    """Cut-offs ending at the last event and the snapshots at each (see ``labels``)."""
    stamps = events["timestamp"]
    cutoffs = labels.rolling_cutoffs(
        stamps.max(), horizon_days, n_train, n_valid, step_days, start=stamps.min()
    )
    return ConversionData(cutoffs, labels.snapshots(events, items, users, cutoffs))


class ConversionObjective:
    """Optuna objective: fit on the training cut-offs, ROC-AUC on the validation cut-offs."""

    def __init__(self, name: str, data: ConversionData, seed: int = 42):
        self.family = conversion.get_family(name)
        self.train, self.valid = data.xy("train"), data.xy("valid")
        self.horizon_days = data.horizon_days
        self.seed = seed

    def __call__(self, trial: optuna.Trial) -> float:
        params = self.family.suggest(trial)
        model = self.family.make(params, self.horizon_days, self.seed).fit(*self.train)
        features, y = self.valid
        return classification.roc_auc(y, model.predict_proba(features)[:, 1])


@dataclass
class ConversionResult:
    """A family's tuned, calibrated model and its test figures.

    Attributes
    ----------
    name : str
    model : fitted classifier
        Fitted on the training cut-offs, calibrated on the validation ones.
    params : dict
    valid_score : float
        Best validation ROC-AUC of the study (before calibration).
    metrics : dict
        Test ``roc_auc``, ``pr_auc``, ``top_decile_lift``, ``log_loss``, ``brier``, ``ece`` and
        their ``*_lower``/``*_upper`` bootstrap bounds, ``fit_seconds``.
    intervals : DataFrame
        The same figures as a (n_metrics, 3) table.
    calibration : str
    test_probability : ndarray of shape (n_test,)
    """

    name: str
    model: object
    params: dict
    valid_score: float
    metrics: dict[str, float] = field(default_factory=dict)
    intervals: pd.DataFrame | None = None
    calibration: str = "none"
    test_probability: np.ndarray | None = None
    n_trials: int = 0
    valid_metric: str = "valid_roc_auc"


def run_family(
    name: str, data: ConversionData, budget: tuning.Budget, n_bootstrap: int = 200
) -> ConversionResult:
    """Tune family ``name`` on validation, refit, calibrate, evaluate once on test.

    Runs with one OpenMP/BLAS thread: on a shared two-core machine gradient boosting is many
    times faster than with threads spinning for busy cores.
    """
    with threadpool_limits(1):
        return _run_family(name, data, budget, n_bootstrap)


def _run_family(name, data, budget, n_bootstrap) -> ConversionResult:
    family = conversion.get_family(name)
    objective = ConversionObjective(name, data, budget.seed)
    n_trials = None if tuning.has_search_space(family.suggest) else 1
    study = tuning.run_study(
        f"conversion-{name}", objective, budget, "valid_roc_auc", None, n_trials,
        horizon_days=data.horizon_days, cutoffs=[str(c) for c in data.cutoffs.all],
    )  # fmt: skip
    start = time.perf_counter()
    model, method = conversion.fit_family(
        name, study.best_params, data.xy("train"), data.xy("valid"), data.horizon_days, budget.seed
    )
    fit_seconds = time.perf_counter() - start
    features, y = data.xy("test")
    p = model.predict_proba(features)[:, 1]
    table = classification.bootstrap_metrics(y, p, n_bootstrap, random_state=budget.seed)
    metrics = {**interval_metrics(table), "fit_seconds": fit_seconds}
    log.info("%s: valid auc %.4f, test auc %.4f (%s calibration)",
             name, study.best_value, metrics["roc_auc"], method)  # fmt: skip
    return ConversionResult(name, model, study.best_params, study.best_value, metrics, table,
                            method, p, len(study.trials))  # fmt: skip


def interval_metrics(table: pd.DataFrame) -> dict[str, float]:
    """``{metric, metric_lower, metric_upper}`` from a ``bootstrap_metrics`` table."""
    flat = {}
    for metric, row in table.iterrows():
        flat.update({metric: row["value"], f"{metric}_lower": row["lower"],
                     f"{metric}_upper": row["upper"]})  # fmt: skip
    return flat


def compare_families(
    names: list[str],
    data: ConversionData,
    budget: tuning.Budget,
    n_bootstrap: int = 200,
    previous: ConversionModel | None = None,
) -> list[ConversionResult]:
    """:func:`run_family` for each family, each in its own nested MLflow run.

    With a ``previous`` model (an incremental run), that model is updated instead
    (:func:`warm_update`, in a nested run ``warm_start`` whose parameters say what changed)
    and nothing is tuned.
    """
    if previous is not None:
        update = lambda: warm_update(previous, data, budget.seed, n_bootstrap)  # noqa: E731
        return [tracked("warm_start", "conversion", update)]
    return [
        tracked(name, "conversion", lambda name=name: run_family(name, data, budget, n_bootstrap))
        for name in names
    ]


def comparison_table(results: list[ConversionResult]) -> pd.DataFrame:
    """One row per family (test figures with intervals), best test ROC-AUC first."""
    rows = {r.name: {**r.metrics, "valid_roc_auc": r.valid_score, "calibration": r.calibration}
            for r in results}  # fmt: skip
    return pd.DataFrame.from_dict(rows, orient="index").sort_values("roc_auc", ascending=False)


def select_best(results: list[ConversionResult]) -> ConversionResult:
    """The family with the best validation ROC-AUC (never chosen on test)."""
    return max(results, key=lambda result: result.valid_score)


def ranking_comparison(data: ConversionData, result: ConversionResult, k_share=0.1) -> dict:
    """Share of test-horizon revenue captured by the top ``k_share`` users by three scores.

    ``p * value`` (the expected revenue: ``p`` times the user's mean past order value, or the
    overall mean for users without one), ``p`` alone, and the RFM score.
    """
    features, _ = data.xy("test")
    revenue, p = data.revenue("test"), result.test_probability
    order_value = (features["monetary"] / features["frequency"]) if "monetary" in features else None
    value = np.ones(len(p)) if order_value is None else order_value.to_numpy(float)
    value = np.where(np.isfinite(value) & (value > 0), value, np.nanmean(value[value > 0]))
    k = max(int(round(k_share * len(p))), 1)
    scores = {"p_times_value": p * value, "p": p, "rfm": features["rfm_score"].fillna(0).to_numpy()}
    return {name: classification.revenue_captured(revenue, s, k) for name, s in scores.items()}


def oracle_auc(data: ConversionData, truth: pd.Series) -> float:
    """Test ROC-AUC of the true probabilities (``truth``: probability per test ``user_id``)."""
    _, y = data.xy("test")
    return classification.roc_auc(y, truth.reindex(data.parts["test"].index).to_numpy(float))


def importance(result: ConversionResult, data: ConversionData, n_top: int = 10, seed: int = 0):
    """Permutation importance (drop in test ROC-AUC) of the ``n_top`` most important features.

    Returns
    -------
    DataFrame of shape (n_top, 2), indexed by feature: ``mean`` and ``std`` of the drop.
    """
    features, y = data.xy("test")
    with threadpool_limits(1):
        found = permutation_importance(result.model, features, y, scoring="roc_auc", n_repeats=3,
                                       random_state=seed)  # fmt: skip
    table = pd.DataFrame(
        {"mean": found.importances_mean, "std": found.importances_std}, index=features.columns
    )
    return table.sort_values("mean", ascending=False).head(n_top)


def publish_result(
    result: ConversionResult, data: ConversionData, name: str, register: bool, promote: bool
) -> Published:
    """Publish ``result`` as ``name`` (pyfunc of calibrated probabilities), gated on log loss.

    The gate compares per-user log loss of the new version and the champion on the test users.
    """
    features, y = data.xy("test")
    model = ConversionModel(result.model, list(features.columns), data.horizon_days)

    def scorer(predict) -> np.ndarray:
        p = np.clip(predict(features)["p_conversion"].to_numpy(float), 1e-15, 1 - 1e-15)
        return -(y * np.log(p) + (1 - y) * np.log(1 - p))

    return publish(
        model, name, features.head(50), "log_loss", result.metrics["log_loss"],
        higher_is_better=False, register=register, promote=promote, scorer=scorer,
        version_metrics={"roc_auc": result.metrics["roc_auc"]},
    )  # fmt: skip


def planted_probability(users: pd.DataFrame, horizon_days: float) -> pd.Series | None:
    """The synthetic source's true conversion probability per user, or None for real data."""
    if "planted_conversion_rate" not in users:
        return None
    rate = users.set_index("user_id")["planted_conversion_rate"]
    return 1.0 - np.exp(-rate.astype(float) * horizon_days)


def rank_example_offers(
    result: ConversionResult, data: ConversionData, items: pd.DataFrame, users: pd.DataFrame,
    n_offers: int = 5, k: int = 3,
) -> pd.DataFrame:  # fmt: skip
    """:func:`~workbench.models.offers.rank_offers` on the test users and ``n_offers`` items
    (the dearest when items have prices).

    ``p(convert | user, offer)`` is the user's ``p(convert)`` times their affinity to the
    offer's first category (relative to their strongest one; 1 without affinities), the value
    is the item's price (1 without prices).
    """
    table = data.parts["test"]
    offers = items.head(n_offers) if "price" not in items else items.nlargest(n_offers, "price")
    p = pd.Series(result.test_probability, index=table.index)
    columns = [f"affinity_{c[0]}" if len(c) else "" for c in offers["categories"]]
    affinity = table.reindex(columns=columns).fillna(1.0).to_numpy(float)
    strongest = table.filter(like="affinity_").max(axis=1).replace(0, 1).fillna(1.0).to_numpy()
    share = np.clip(affinity / strongest[:, None], 0, 1)
    probabilities = pd.DataFrame(p.to_numpy()[:, None] * share, index=table.index,
                                 columns=offers["item_id"].to_numpy())  # fmt: skip
    values = offers.set_index("item_id")["price"] if "price" in offers else None
    values = pd.Series(1.0, index=offers["item_id"]) if values is None else values.fillna(0.0)
    allowed = users.set_index("user_id").get("personalization_allowed")
    allowed = pd.Series(True, index=table.index) if allowed is None else allowed
    return rank_offers(probabilities, values, allowed, k)


def warm_update(
    previous: ConversionModel, data: ConversionData, seed: int = 42, n_bootstrap: int = 200
) -> ConversionResult:
    """The previous model updated on the new snapshots instead of tuned and fitted anew.

    Its learner continues from its fitted state on the new training cut-offs
    (:func:`workbench.models.conversion.warm_start_fit`), is calibrated again on the new
    validation cut-off and scored once on the new test cut-off, like :func:`run_family`.
    What changed (rows, cut-offs, the learner's size) is logged and kept in ``params``.
    """
    features, _ = data.xy("train")
    if list(features.columns) != previous.feature_names:
        raise ValueError(
            "the new snapshots' features differ from the previous model's: "
            f"{sorted(set(features.columns) ^ set(previous.feature_names))}"
        )
    with threadpool_limits(1):
        start = time.perf_counter()
        learner = conversion.warm_start_fit(previous.classifier, data.xy("train"))
        model, method, _ = conversion.calibrate(learner, *data.xy("valid"), random_state=seed)
        fit_seconds = time.perf_counter() - start
    x_test, y = data.xy("test")
    p = model.predict_proba(x_test)[:, 1]
    table = classification.bootstrap_metrics(y, p, n_bootstrap, random_state=seed)
    last = learner.steps[-1][1]
    changes = {
        "warm_start": True,
        "learner": type(last).__name__,
        "train_rows": len(features),
        "test_cutoff": str(data.cutoffs.test),
        "n_iter": int(getattr(last, "n_iter_", [0])[0] if hasattr(last, "coef_") else
                      getattr(last, "n_iter_", 0)),
    }  # fmt: skip
    log.info("warm update: %s", changes)
    metrics = {**interval_metrics(table), "fit_seconds": fit_seconds}
    valid_features, valid_y = data.xy("valid")
    valid_auc = classification.roc_auc(valid_y, learner.predict_proba(valid_features)[:, 1])
    return ConversionResult("warm_start", model, changes, valid_auc, metrics, table, method, p)
