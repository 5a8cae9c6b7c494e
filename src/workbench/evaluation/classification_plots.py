"""Plots of probabilistic classifiers: reliability, gains, importance, partial dependence."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.inspection import PartialDependenceDisplay

from workbench.evaluation import classification


def reliability(probabilities: dict[str, np.ndarray], y, n_bins: int = 10) -> plt.Figure:
    """Observed rate against mean prediction per bin, one line per model, with each ECE.

    Parameters
    ----------
    probabilities : dict of str to ndarray of shape (n_rows,)
    y : ndarray of shape (n_rows,)
    """
    figure, axis = plt.subplots(figsize=(5, 5))
    axis.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfectly calibrated")
    for name, p in probabilities.items():
        curve = classification.reliability_curve(y, p, n_bins)
        ece = classification.expected_calibration_error(y, p, n_bins)
        axis.plot(
            curve["predicted"], curve["observed"], marker="o", label=f"{name} (ECE {ece:.3f})"
        )
    upper = max(max(float(np.max(p)) for p in probabilities.values()), float(np.mean(y))) * 1.05
    axis.set(xlim=(0, min(upper, 1)), ylim=(0, min(upper, 1)), xlabel="mean predicted probability",
             ylabel="observed conversion rate", title="Reliability (test cut-off)")  # fmt: skip
    axis.legend(fontsize="small")
    figure.tight_layout()
    return figure


def gains(probabilities: dict[str, np.ndarray], y) -> plt.Figure:
    """Cumulative gains, one line per model, with its top-decile lift."""
    figure, axis = plt.subplots(figsize=(5, 5))
    axis.plot([0, 1], [0, 1], color="grey", linestyle=":", label="random")
    for name, p in probabilities.items():
        curve = classification.gains_curve(y, p)
        lift = classification.lift_at(y, p, 0.1)
        axis.plot(
            curve["targeted"], curve["captured"], label=f"{name} (top-decile lift {lift:.2f})"
        )
    axis.set(xlabel="share of users targeted", ylabel="share of converters captured",
             title="Cumulative gains (test cut-off)")  # fmt: skip
    axis.legend(fontsize="small")
    figure.tight_layout()
    return figure


def importance_bars(table: pd.DataFrame, title: str = "") -> plt.Figure:
    """Horizontal bars of ``mean`` with ``std`` error bars, one per feature (index)."""
    ordered = table.iloc[::-1]
    figure, axis = plt.subplots(figsize=(6, 0.35 * len(table) + 1.2))
    axis.barh(ordered.index, ordered["mean"], xerr=ordered["std"], color="tab:blue")
    axis.set(xlabel="drop in test ROC-AUC when permuted", title=title or "Permutation importance")
    figure.tight_layout()
    return figure


def partial_dependence(model, features: pd.DataFrame, columns: list[str]) -> plt.Figure:
    """Partial dependence of the predicted probability on each of ``columns``."""
    figure, axes = plt.subplots(1, len(columns), figsize=(3.2 * len(columns), 3), squeeze=False)
    PartialDependenceDisplay.from_estimator(
        model, features, columns, ax=axes.ravel(), grid_resolution=20, kind="average"
    )
    figure.suptitle("Partial dependence of p(convert)")
    figure.tight_layout()
    return figure
