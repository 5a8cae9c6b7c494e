"""The data-quality report."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from workbench.data import report
from workbench.data.curate import CurationSettings, curate
from workbench.data.sources.synthetic import generate


def test_the_report_has_every_plot_and_a_balanced_reconciliation():
    raw = generate(n_users=40, n_items=20, n_days=4, seed=2)
    raw["events"].loc[0, "user_id"] = None
    curation = curate(raw, CurationSettings(pseudonym_key=b"k"))
    figures = report.quality_report(curation)
    assert set(figures) == {
        "missingness",
        "distributions",
        "events_over_time",
        "quarantine_reasons",
    }
    assert all(isinstance(f, Figure) and f.axes for f in figures.values())
    table = report.reconciliation_table(curation.counts)
    assert table["balanced"].all() and table.loc["events", "quarantined"] == 1
    assert figures["events_over_time"].axes[0].get_ylabel() == "events per D"  # 4 days
    summary = report.quarantine_summary(curation.quarantine)
    assert summary.iloc[0][["reason", "column", "rows"]].tolist() == [
        "missing_required",
        "user_id",
        1,
    ]


def test_events_are_plotted_per_day_until_the_data_spans_many_dates():
    days = pd.DataFrame({"timestamp": pd.date_range("2024-01-01", periods=199, freq="D", tz="UTC")})
    assert report.events_frequency(days) == "D"
    longer = pd.DataFrame({"timestamp": pd.date_range("2024-01-01", periods=200, tz="UTC")})
    assert report.events_frequency(longer) == "W"
    assert report.events_frequency(longer, max_daily_points=201) == "D"
