"""Comparison plots of evaluated models."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd


def comparison_bars(table: pd.DataFrame, metrics: list[str], title: str = "") -> plt.Figure:
    """Grouped bars: one group per metric, one bar per model.

    Parameters
    ----------
    table : DataFrame
        One row per model, indexed by model name, a column per metric.
    metrics : list of str
        Columns to plot.
    title : str

    Returns
    -------
    Figure
    """
    missing = [m for m in metrics if m not in table.columns]
    if missing:
        raise KeyError(f"metrics not in the table: {missing}")
    figure, axis = plt.subplots(figsize=(1.6 + 1.4 * len(metrics), 4))
    table[metrics].T.plot.bar(ax=axis, rot=0, width=0.8)
    axis.set_ylabel("score")
    axis.set_title(title)
    axis.legend(title="model", fontsize="small", ncols=2)
    axis.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    return figure


def plot_intervals(table: pd.DataFrame, k: int = 10, title: str = ""):
    """Test nDCG@k of each candidate with its bootstrap interval (a figure)."""
    ordered = table.sort_values(f"ndcg_at_{k}")
    figure, axis = plt.subplots(figsize=(7, 0.45 * len(ordered) + 1.5))
    centre = ordered[f"ndcg_at_{k}"].to_numpy()
    errors = np.vstack([centre - ordered["lower"], ordered["upper"] - centre])
    axis.errorbar(centre, np.arange(len(ordered)), xerr=errors, fmt="o", capsize=4)
    axis.set_yticks(np.arange(len(ordered)), ordered.index)
    axis.set_xlabel(f"test nDCG@{k} (95 % bootstrap interval over users)")
    axis.set_title(title)
    figure.tight_layout()
    return figure
