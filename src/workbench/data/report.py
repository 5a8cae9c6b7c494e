"""The data-quality report: reconciliation, missingness, distributions, time and quarantine.

Each plot is a function returning a ``matplotlib.figure.Figure`` (no pyplot state), which a
notebook shows and logs with ``nb.log_figure``. ``quality_report`` builds them all.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

PARTS = ("curated", "quarantined", "duplicates", "erased")
MAX_DAILY_POINTS = 200  # distinct event dates up to which events are plotted per day


def reconciliation_table(counts: dict[str, int]) -> pd.DataFrame:
    """Rows in, curated, quarantined and duplicates per table, with a ``balanced`` check.

    Parameters
    ----------
    counts : dict of str to int
        ``Curation.counts``.

    Returns
    -------
    DataFrame indexed by table
    """
    tables = sorted({key[: -len("_in")] for key in counts if key.endswith("_in")})
    frame = pd.DataFrame(
        {part: [counts.get(f"{t}_{part}", 0) for t in tables] for part in ("in", *PARTS)},
        index=pd.Index(tables, name="table"),
    )
    frame["balanced"] = frame["in"] == frame[list(PARTS)].sum(axis=1)
    return frame


def quarantine_summary(quarantine: pd.DataFrame) -> pd.DataFrame:
    """Rejected rows per table, reason and column, most frequent first."""
    counts = quarantine.groupby(["table", "reason", "column"], dropna=False).size()
    return counts.rename("rows").sort_values(ascending=False).reset_index()


def plot_missingness(tables: dict[str, pd.DataFrame]) -> Figure:
    """Share of missing values in each column of each table (horizontal bars)."""
    shares = pd.concat(
        {
            name: frame.isna().mean()
            for name, frame in tables.items()
            if len(frame.columns) and name in ("events", "users", "items", "consent")
        }
    )
    figure = Figure(figsize=(7, max(2.5, 0.22 * len(shares))), layout="constrained")
    axes = figure.subplots()
    labels = [f"{table}.{column}" for table, column in shares.index]
    axes.barh(labels, shares.to_numpy(), color="tab:orange")
    axes.invert_yaxis()
    axes.set_xlim(0, 1)
    axes.set_xlabel("share of rows missing")
    axes.set_title("Missing values per column")
    return figure


def plot_distributions(events: pd.DataFrame) -> Figure:
    """Event types, values, revenue and events per user, side by side."""
    figure = Figure(figsize=(12, 3.2), layout="constrained")
    types, values, revenue, per_user = figure.subplots(1, 4)
    events["event_type"].value_counts().plot.bar(ax=types, color="tab:blue")
    types.set_title("events by type")
    for axes, column in ((values, "value"), (revenue, "revenue")):
        data = events[column].dropna() if column in events else pd.Series(dtype=float)
        axes.hist(data.to_numpy(), bins=40, color="tab:green")
        axes.set_yscale("log")
        axes.set_title(f"{column} ({len(data):,} non-null)")
    counts = events.groupby("user_id").size()
    per_user.hist(np.log10(counts.to_numpy()), bins=40, color="tab:purple")
    per_user.set_xlabel("log10 events per user")
    per_user.set_title(f"{len(counts):,} users")
    return figure


def events_frequency(events: pd.DataFrame, max_daily_points: int = MAX_DAILY_POINTS) -> str:
    """The period of an events-over-time plot: days (``"D"``), or weeks (``"W"``) for long data.

    Parameters
    ----------
    events : DataFrame of shape (n_events, >=1)
        With a ``timestamp`` column.
    max_daily_points : int
        Weeks once the events span this many distinct (UTC) dates or more.

    Returns
    -------
    str
        A pandas offset alias.
    """
    return "D" if events["timestamp"].dt.date.nunique() < max_daily_points else "W"


def plot_events_over_time(events: pd.DataFrame, freq: str = "D") -> Figure:
    """Events per period and type (``freq``: a pandas offset alias such as D or W)."""
    counts = events.groupby([pd.Grouper(key="timestamp", freq=freq), "event_type"]).size().unstack()
    figure = Figure(figsize=(10, 3.2), layout="constrained")
    axes = figure.subplots()
    counts.fillna(0).plot(ax=axes)
    axes.set_ylabel(f"events per {freq}")
    axes.set_title("Events over time (UTC)")
    return figure


def plot_quarantine_reasons(quarantine: pd.DataFrame) -> Figure:
    """Quarantined rows per table and reason (log scale); says so when there are none."""
    figure = Figure(figsize=(7, 3.2), layout="constrained")
    axes = figure.subplots()
    if quarantine.empty:
        axes.text(0.5, 0.5, "no row quarantined", ha="center", va="center")
        axes.set_axis_off()
        return figure
    counts = quarantine.groupby(["table", "reason"]).size().sort_values()
    labels = [f"{table}: {reason}" for table, reason in counts.index]
    axes.barh(labels, counts.to_numpy(), color="tab:red")
    axes.set_xscale("log")
    axes.set_xlabel("rows")
    axes.set_title(f"Quarantine reasons ({len(quarantine):,} rows)")
    return figure


def draw(
    tables: dict[str, pd.DataFrame],
    events: pd.DataFrame,
    quarantine: pd.DataFrame | None,
    freq: str | None = None,
) -> dict[str, Figure]:
    """Every plot of the report from tables (what ``quality_report`` and the staged check use)."""
    quarantine = quarantine if quarantine is not None else pd.DataFrame(columns=["table", "reason"])
    return {
        "missingness": plot_missingness(tables),
        "distributions": plot_distributions(events),
        "events_over_time": plot_events_over_time(events, freq or events_frequency(events)),
        "quarantine_reasons": plot_quarantine_reasons(quarantine),
    }


def dropped_columns_table(dropped: dict[str, list[str]]) -> pd.DataFrame:
    """Columns of each input table left out of the curated layer (names only)."""
    rows = [(table, column) for table, columns in dropped.items() for column in columns]
    return pd.DataFrame(rows, columns=["table", "column"])


def issues_summary(issues: pd.DataFrame) -> pd.DataFrame:
    """Optional values set to null per table, column and issue, most frequent first."""
    counts = issues.groupby(["table", "column", "issue"], dropna=False).size()
    return counts.rename("values").sort_values(ascending=False).reset_index()


def quality_report(curation, freq: str | None = None) -> dict[str, Figure]:
    """Every plot of the data-quality report of a curation, by name.

    Parameters
    ----------
    curation : Curation
    freq : str, optional
        Period of the events-over-time plot; ``events_frequency(events)`` when None.

    Returns
    -------
    dict of str to Figure
        ``missingness``, ``distributions``, ``events_over_time``, ``quarantine_reasons``.
    """
    return draw(curation.tables, curation.tables["events"], curation.quarantine, freq)
