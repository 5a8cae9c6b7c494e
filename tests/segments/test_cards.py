"""Persona cards and names on the planted synthetic groups, and the plots."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from workbench.segments import cards, personas  # noqa: E402


@pytest.fixture(scope="module")
def truth_labels(planted):
    codes, names = pd.factorize(planted["truth"], sort=True)
    return codes, list(names)


def test_names_come_from_the_distinguishing_features():
    contrast = pd.Series(
        {"daypart_evening": 1.5, "device_mobile": 1.2, "monetary": -0.9, "age": 0.1}
    )
    assert cards.persona_name(contrast) == "evening mobile bargain hunters"
    flat = pd.Series({"daypart_evening": 0.1, "monetary": 0.2})
    assert cards.persona_name(flat) == "typical users"


def test_planted_groups_get_the_names_they_were_planted_with(planted, truth_labels):
    codes, truth_names = truth_labels
    names = cards.persona_names(planted["features"], codes)
    named = dict(zip(truth_names, [names[k] for k in range(len(truth_names))], strict=True))
    assert "fashion" in named["evening_mobile_fashion"]
    assert "evening" in named["evening_mobile_fashion"]
    assert "morning" in named["morning_desktop_tech"]
    assert "electronics" in named["morning_desktop_tech"]
    assert len(set(names.values())) == len(names)


def test_cards_describe_every_persona(planted, truth_labels):
    codes, _ = truth_labels
    table = cards.persona_cards(planted["features"], codes)
    assert table["size"].sum() == len(planted["features"]) and len(table) == 4
    for column in ("name", "mean_rfm_score", "top_categories", "habits", "mean_age", "gender"):
        assert table[column].notna().all()
    fashion = table.loc[table["name"].str.contains("fashion")].iloc[0]
    assert fashion["top_categories"].startswith("fashion")


def test_plots_are_figures(planted, truth_labels):
    codes, _ = truth_labels
    features = planted["features"]
    columns = personas.persona_columns(list(features.columns), ["context", "affinity"])
    X = personas.make_preprocessor(columns).fit_transform(features)
    names = cards.persona_names(features, codes)
    trials = pd.DataFrame(
        {"algorithm": ["kmeans", "gmm"], "n_personas": [3, 4], "stability": [0.9, 0.8],
         "silhouette": [0.3, 0.2]}
    )  # fmt: skip
    for figure in (
        cards.plot_profiles(features, codes),
        cards.plot_projection(X, np.asarray(codes), names),
        cards.plot_selection(trials, chosen=1),
    ):
        assert figure.axes
        matplotlib.pyplot.close(figure)
