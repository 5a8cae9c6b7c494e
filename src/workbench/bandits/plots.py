"""Figures of bandit runs and off-policy estimates; each function returns a matplotlib Figure."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from workbench.bandits.environments import SimulationResult


def plot_cumulative(results: dict[str, SimulationResult]):
    """Cumulative reward and cumulative regret of several runs over the same horizon."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for name, result in results.items():
        rounds = np.arange(1, len(result.actions) + 1)
        left.plot(rounds, result.cumulative_reward, label=name)
        right.plot(rounds, result.regret, label=name)
    left.set(title="Cumulative reward", xlabel="round", ylabel="reward")
    right.set(title="Cumulative regret (vs. best arm per context)", xlabel="round", ylabel="regret")
    right.legend(fontsize=8)
    figure.tight_layout()
    return figure


def plot_arm_choices(result: SimulationResult, action_names: list[str], window: int = 250):
    """Share of each arm among the last ``window`` choices, over time (stacked)."""
    n_actions = len(action_names)
    chosen = np.eye(n_actions)[result.actions]
    shares = pd.DataFrame(chosen).rolling(window, min_periods=1).mean().to_numpy()
    figure, axis = plt.subplots(figsize=(9, 4))
    axis.stackplot(np.arange(1, len(shares) + 1), shares.T, labels=action_names)
    axis.set(
        title=f"Arm choices over time (rolling {window} rounds)",
        xlabel="round",
        ylabel="share",
        ylim=(0, 1),
    )
    axis.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    figure.tight_layout()
    return figure


def plot_estimates(estimates: pd.DataFrame, truth: float | None = None, title: str = ""):
    """Estimated values with intervals, one row per estimator (or policy).

    Parameters
    ----------
    estimates : DataFrame
        Indexed by name, with columns ``value``, ``lower``, ``upper``.
    truth : float, optional
        Drawn as a vertical line.
    """
    figure, axis = plt.subplots(figsize=(7, 0.5 * len(estimates) + 1.5))
    positions = np.arange(len(estimates))
    errors = np.vstack(
        [estimates["value"] - estimates["lower"], estimates["upper"] - estimates["value"]]
    )
    axis.errorbar(estimates["value"], positions, xerr=errors, fmt="o", capsize=4)
    axis.set_yticks(positions, estimates.index)
    if truth is not None:
        axis.axvline(truth, color="black", linestyle="--", label="true value")
        axis.legend(fontsize=8)
    axis.set(title=title or "Estimated policy value (95% bootstrap interval)", xlabel="value")
    figure.tight_layout()
    return figure


def plot_ab_versus_bandit(results: dict[str, SimulationResult], test_rounds: int):
    """Cumulative regret of an A/B test then ship, against a bandit, same horizon."""
    figure, axis = plt.subplots(figsize=(7, 4))
    for name, result in results.items():
        axis.plot(np.arange(1, len(result.actions) + 1), result.regret, label=name)
    axis.axvline(test_rounds, color="grey", linestyle=":", label="end of A/B test")
    axis.set(title="Regret: fixed A/B split vs. bandit", xlabel="round", ylabel="regret")
    axis.legend(fontsize=8)
    figure.tight_layout()
    return figure


def plot_estimates_against_truth(table: pd.DataFrame, title: str = ""):
    """Each policy's offline estimate with its interval, and its true value beside it.

    Parameters
    ----------
    table : DataFrame
        Indexed by policy, with columns ``estimate``, ``lower``, ``upper`` and ``true_value``
        (as :func:`workbench.workflows.bandits.held_out_versus_truth` returns).
    """
    figure, axis = plt.subplots(figsize=(7, 0.5 * len(table) + 1.5))
    positions = np.arange(len(table))
    errors = np.vstack([table["estimate"] - table["lower"], table["upper"] - table["estimate"]])
    axis.errorbar(
        table["estimate"], positions, xerr=errors, fmt="o", capsize=4, label="held-out estimate"
    )
    axis.scatter(table["true_value"], positions, marker="x", color="black", label="true value")
    axis.set_yticks(positions, table.index)
    axis.legend(fontsize=8)
    axis.set(title=title or "Held-out estimate (95% bootstrap interval) vs. truth", xlabel="value")
    figure.tight_layout()
    return figure
