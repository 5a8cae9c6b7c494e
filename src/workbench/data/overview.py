"""Plots of what was loaded: activity over time by event type, and the mix of types."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402


def plot_activity(events: pd.DataFrame, freq: str = "D"):
    """Events per period by type (lines) and the share of each type (bars).

    Parameters
    ----------
    events : DataFrame
        Contract events (``event_type``, ``timestamp``).
    freq : str
        A pandas offset alias for the time axis (``D`` days, ``W`` weeks, ``MS`` months).

    Returns
    -------
    matplotlib.figure.Figure
    """
    figure, (timeline, mix) = plt.subplots(1, 2, figsize=(12, 3.8), width_ratios=(3, 1))
    periods = events["timestamp"].dt.tz_convert(None).dt.to_period(freq).dt.to_timestamp()
    counts = events.groupby([periods, "event_type"]).size().unstack(fill_value=0)
    counts.plot(ax=timeline, linewidth=1.2)
    timeline.set(title="events over time", xlabel="", ylabel=f"events per {freq}")
    timeline.legend(title=None, fontsize=8)
    events["event_type"].value_counts().sort_values().plot.barh(ax=mix, color="#4C72B0")
    mix.set(title="events by type", xlabel="events", ylabel="")
    figure.tight_layout()
    return figure


def table_counts(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Rows per curated table, as a small frame for display and logging."""
    return pd.DataFrame({"table": list(tables), "rows": [len(t) for t in tables.values()]})
