"""Metrics of probabilistic classifiers, as pure functions of labels and probabilities.

Every metric takes ``y`` (0/1 labels) and ``p`` (predicted probabilities), both of shape
(n_rows,), and returns a float; :func:`bootstrap_metrics` adds a percentile interval to each by
resampling rows. Expected-value ranking is scored by :func:`revenue_captured`: the share of the
horizon's revenue earned by the ``k`` users a score ranks first.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn import metrics as sk

EPSILON = 1e-15


def _check(y, p) -> tuple[np.ndarray, np.ndarray]:
    y, p = np.asarray(y, float), np.asarray(p, float)
    if y.shape != p.shape or y.ndim != 1:
        raise ValueError(f"y and p must be 1-D of one length, got {y.shape} and {p.shape}")
    if np.any((y != 0) & (y != 1)):
        raise ValueError("y must hold 0/1 labels")
    if np.any(p < 0) or np.any(p > 1):
        raise ValueError(f"p must lie in [0, 1], got [{p.min()}, {p.max()}]")
    return y, p


def roc_auc(y, p) -> float:
    """Area under the ROC curve (NaN when only one class is present)."""
    y, p = _check(y, p)
    return float(sk.roc_auc_score(y, p)) if 0 < y.sum() < len(y) else float("nan")


def pr_auc(y, p) -> float:
    """Average precision, the area under the precision-recall curve."""
    y, p = _check(y, p)
    return float(sk.average_precision_score(y, p)) if y.sum() > 0 else float("nan")


def log_loss(y, p) -> float:
    """Mean negative log-likelihood, probabilities clipped to ``[1e-15, 1 - 1e-15]``."""
    y, p = _check(y, p)
    p = np.clip(p, EPSILON, 1 - EPSILON)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def brier(y, p) -> float:
    """Mean squared error of the probabilities."""
    y, p = _check(y, p)
    return float(np.mean((p - y) ** 2))


def reliability_curve(y, p, n_bins: int = 10) -> pd.DataFrame:
    """Mean prediction and observed rate per equal-width probability bin.

    Returns
    -------
    DataFrame of shape (n_nonempty_bins, 3)
        ``predicted``, ``observed`` and ``count``, by bin.
    """
    y, p = _check(y, p)
    bins = np.minimum((p * n_bins).astype(int), n_bins - 1)
    frame = pd.DataFrame({"bin": bins, "predicted": p, "observed": y})
    table = frame.groupby("bin").agg(
        predicted=("predicted", "mean"), observed=("observed", "mean"), count=("observed", "size")
    )
    return table


def expected_calibration_error(y, p, n_bins: int = 10) -> float:
    """ECE: the count-weighted mean gap between predicted and observed rates over bins."""
    table = reliability_curve(y, p, n_bins)
    gaps = (table["predicted"] - table["observed"]).abs()
    return float((gaps * table["count"]).sum() / table["count"].sum())


def gains_curve(y, p) -> pd.DataFrame:
    """Cumulative share of positives captured against the share of rows targeted, best first.

    Returns
    -------
    DataFrame of shape (n_rows + 1, 2)
        ``targeted`` and ``captured``, from (0, 0) to (1, 1).
    """
    y, p = _check(y, p)
    order = np.argsort(-p, kind="stable")
    captured = np.concatenate([[0.0], np.cumsum(y[order]) / max(y.sum(), 1.0)])
    targeted = np.arange(len(y) + 1) / max(len(y), 1)
    return pd.DataFrame({"targeted": targeted, "captured": captured})


def lift_at(y, p, fraction: float = 0.1) -> float:
    """Positive rate of the top ``fraction`` of rows by ``p`` over the overall rate.

    Top-decile lift is ``lift_at(y, p, 0.1)``: 1 for a random order, ``1 / fraction`` at most.
    """
    y, p = _check(y, p)
    n_top = max(int(round(fraction * len(y))), 1)
    top = np.argsort(-p, kind="stable")[:n_top]
    return float(y[top].mean() / y.mean()) if y.sum() > 0 else float("nan")


def revenue_captured(revenue, score, k: int) -> float:
    """Share of total ``revenue`` earned by the ``k`` rows with the highest ``score``.

    Parameters
    ----------
    revenue, score : array-like of shape (n_rows,)
        Realized revenue in the horizon and the ranking score (``p * value``, ``p``, RFM).
    k : int
    """
    revenue, score = np.asarray(revenue, float), np.asarray(score, float)
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    top = np.argsort(-score, kind="stable")[:k]
    total = revenue.sum()
    return float(revenue[top].sum() / total) if total > 0 else float("nan")


#: The metrics every conversion model is scored with; lower is better for the last three.
METRICS: dict[str, Callable] = {
    "roc_auc": roc_auc,
    "pr_auc": pr_auc,
    "top_decile_lift": lift_at,
    "log_loss": log_loss,
    "brier": brier,
    "ece": expected_calibration_error,
}


def bootstrap_metrics(
    y, p, n_bootstrap: int = 200, confidence: float = 0.95, random_state: int = 0
) -> pd.DataFrame:
    """Every metric of :data:`METRICS` with a bootstrap percentile interval over rows.

    Returns
    -------
    DataFrame of shape (n_metrics, 3), indexed by metric
        ``value``, ``lower`` and ``upper``.
    """
    y, p = _check(y, p)
    rng = np.random.default_rng(random_state)
    draws = rng.integers(0, len(y), size=(n_bootstrap, len(y)))
    tail = (1 - confidence) / 2
    rows = {}
    for name, metric in METRICS.items():
        samples = np.array([metric(y[rows_], p[rows_]) for rows_ in draws])
        lower, upper = np.nanquantile(samples, [tail, 1 - tail])
        rows[name] = {"value": metric(y, p), "lower": lower, "upper": upper}
    return pd.DataFrame.from_dict(rows, orient="index")
