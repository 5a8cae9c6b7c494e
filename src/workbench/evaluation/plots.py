"""Comparison plots of evaluated models."""

from __future__ import annotations

import matplotlib.pyplot as plt
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
