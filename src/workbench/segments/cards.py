"""Persona cards: who is in each persona, a short generated name, and plots.

A persona's name comes from its most distinguishing features: each feature is compared to the
whole population as a z-score of the persona's mean, and the strongest contrasts become words
("evening" for a high evening share, "bargain hunters" for a low spend), up to two adjectives
and one noun, e.g. "evening mobile bargain hunters".
"""

from __future__ import annotations

import logging

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_rand_score

log = logging.getLogger(__name__)

#: column -> (word when high, word when low); adjectives come before the noun.
ADJECTIVES = {
    "daypart_evening": ("evening", None),
    "daypart_morning": ("morning", None),
    "daypart_afternoon": ("daytime", None),
    "daypart_night": ("late-night", None),
    "weekend_share": ("weekend", "weekday"),
    "device_mobile": ("mobile", None),
    "device_desktop": ("desktop", None),
    "device_tablet": ("tablet", None),
    "channel_social": ("social", None),
    "channel_search": ("search-driven", None),
    "channel_email": ("newsletter", None),
    "age": ("older", "young"),
}
NOUNS = {
    "monetary": ("big spenders", "bargain hunters"),
    "frequency": ("regulars", "one-off buyers"),
    "recency_days": ("lapsed users", None),
    "n_sessions": ("heavy users", "casual visitors"),
    "events_per_session": ("browsers", None),
}
MIN_CONTRAST = 0.5


def contrasts(features: pd.DataFrame, labels: np.ndarray) -> pd.DataFrame:
    """z-score of each persona's mean against the population, for every numeric feature.

    Parameters
    ----------
    features : DataFrame of shape (n_users, n_features)
    labels : ndarray of shape (n_users,)

    Returns
    -------
    DataFrame of shape (n_personas, n_numeric_features)
        Indexed by persona; a feature with no spread gets 0.
    """
    numeric = features.select_dtypes("number")
    spread = numeric.std().replace(0, np.nan)
    means = numeric.groupby(np.asarray(labels)).mean()
    return ((means - numeric.mean()) / spread).fillna(0.0)


def persona_name(contrast: pd.Series, max_adjectives: int = 2) -> str:
    """A short name from one persona's row of ``contrasts``."""
    words = []
    for column, z in contrast.abs().sort_values(ascending=False).items():
        word = _word(column, contrast[column], ADJECTIVES)
        if z >= MIN_CONTRAST and word and len(words) < max_adjectives and word not in words:
            words.append(word)
    noun = "typical users"
    for column in contrast.abs().sort_values(ascending=False).index:
        word = _word(column, contrast[column], NOUNS)
        if column.startswith("affinity_") and contrast[column] >= MIN_CONTRAST:
            word = f"{column.removeprefix('affinity_').replace('_', ' ')} fans"
        if word and abs(contrast[column]) >= MIN_CONTRAST:
            noun = word
            break
    return " ".join([*words, noun])


def _word(column: str, z: float, vocabulary: dict) -> str | None:
    high, low = vocabulary.get(column, (None, None))
    return high if z > 0 else low


def persona_names(features: pd.DataFrame, labels: np.ndarray) -> dict[int, str]:
    """A distinct name per persona (a number is appended when two would coincide)."""
    table = contrasts(features, labels)
    names: dict[int, str] = {}
    for persona, row in table.iterrows():
        name = persona_name(row)
        names[int(persona)] = name if name not in names.values() else f"{name} {persona}"
    return names


def persona_assignments(features: pd.DataFrame, labels: np.ndarray) -> pd.DataFrame:
    """Each user's persona and its name.

    Returns
    -------
    DataFrame with columns user_id, persona, persona_name, one row per row of ``features``
    """
    names = persona_names(features, labels)
    return pd.DataFrame(
        {"user_id": features.index, "persona": labels, "persona_name": [names[p] for p in labels]}
    )


def planted_agreement(
    users: pd.DataFrame, truth_column: str, assignments: pd.DataFrame
) -> tuple[float | None, pd.DataFrame | None]:
    """Adjusted Rand index of the personas against planted groups, and their cross-table.

    Returns ``(None, None)`` when ``users`` has no ``truth_column`` (real data sets).
    """
    if truth_column not in users:
        return None, None
    truth = users.set_index("user_id")[truth_column].reindex(assignments["user_id"]).to_numpy()
    table = pd.crosstab(truth, assignments["persona_name"].to_numpy())
    return float(adjusted_rand_score(truth, assignments["persona"])), table


def persona_cards(features: pd.DataFrame, labels: np.ndarray, top_n: int = 3) -> pd.DataFrame:
    """One card per persona: size, name, RFM profile, top categories, demographics, habits.

    Parameters
    ----------
    features : DataFrame of shape (n_users, n_features)
        ``build_user_features`` output; cards show the parts the data set has.
    labels : ndarray of shape (n_users,)
    top_n : int
        Categories listed per persona.

    Returns
    -------
    DataFrame of shape (n_personas, n_fields)
        ``persona``, ``name``, ``size``, ``share`` and readable summaries.
    """
    names = persona_names(features, labels)
    rows = []
    for persona, group in features.groupby(np.asarray(labels)):
        row = {"persona": int(persona), "name": names[int(persona)], "size": len(group)}
        row["share"] = round(len(group) / len(features), 3)
        row |= _means(group, ["recency_days", "frequency", "monetary", "rfm_score"])
        row["top_categories"] = _top_shares(group, "affinity_", top_n)
        row["habits"] = ", ".join(
            filter(None, [_top_shares(group, p, 1) for p in ("daypart_", "device_", "channel_")])
        )
        row |= _means(group, ["age", "weekend_share"])
        row |= {c: _mode_share(group[c]) for c in ("gender", "occupation", "country") if c in group}
        rows.append(row)
    return pd.DataFrame(rows)


def _means(group: pd.DataFrame, columns: list[str]) -> dict[str, float]:
    return {f"mean_{c}": round(float(group[c].mean()), 2) for c in columns if c in group}


def _top_shares(group: pd.DataFrame, prefix: str, top_n: int) -> str:
    """``"fashion 41%, beauty 22%"``: the largest mean shares of a column family."""
    columns = [c for c in group.columns if c.startswith(prefix)]
    if not columns:
        return ""
    means = group[columns].mean().sort_values(ascending=False).head(top_n)
    return ", ".join(f"{c.removeprefix(prefix)} {v:.0%}" for c, v in means.items())


def _mode_share(values: pd.Series) -> str:
    counts = values.value_counts(normalize=True)
    return f"{counts.index[0]} {counts.iloc[0]:.0%}" if len(counts) else ""


def plot_profiles(features: pd.DataFrame, labels: np.ndarray, top_n: int = 8):
    """Profile bars: each persona's most distinguishing features as z-scores.

    Parameters
    ----------
    features : DataFrame of shape (n_users, n_features)
    labels : ndarray of shape (n_users,)
    top_n : int
        Features shown per persona.

    Returns
    -------
    matplotlib.figure.Figure
    """
    table = contrasts(features, labels)
    names = persona_names(features, labels)
    n_cols = min(3, len(table))
    n_rows = int(np.ceil(len(table) / n_cols))
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(5 * n_cols, 3.2 * n_rows), squeeze=False)
    for ax, (persona, row) in zip(axes.ravel(), table.iterrows(), strict=False):
        top = row.reindex(row.abs().sort_values(ascending=False).index[:top_n])[::-1]
        ax.barh(top.index, top.to_numpy(), color=np.where(top > 0, "tab:blue", "tab:red"))
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_title(f"{persona}: {names[int(persona)]}", fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in axes.ravel()[len(table) :]:
        ax.set_visible(False)
    fig.supxlabel("persona mean vs all users (z-score)")
    fig.tight_layout()
    return fig


def plot_projection(X: np.ndarray, labels: np.ndarray, names: dict[int, str], random_state=0):
    """All users in two principal components of the encoded features, coloured by persona.

    Parameters
    ----------
    X : ndarray of shape (n_users, n_encoded)
        The segmenter's preprocessed features.
    labels : ndarray of shape (n_users,)
    names : dict of int to str

    Returns
    -------
    matplotlib.figure.Figure
    """
    points = PCA(n_components=2, random_state=random_state).fit_transform(X)
    fig, ax = plt.subplots(figsize=(7, 5.5))
    for persona in np.unique(labels):
        mask = labels == persona
        label = names.get(int(persona), "noise")
        ax.scatter(points[mask, 0], points[mask, 1], s=6, alpha=0.6, label=f"{persona}: {label}")
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    ax.legend(fontsize=7, markerscale=2, loc="best")
    ax.set_title("Users by persona (PCA of the segmenter's features)")
    fig.tight_layout()
    return fig


def plot_selection(trials: pd.DataFrame, chosen: int | None = None):
    """Stability and silhouette of every search trial, by algorithm and number of personas.

    Parameters
    ----------
    trials : DataFrame
        One row per completed trial with ``algorithm``, ``n_personas``, ``stability``,
        ``silhouette`` (``selection.trials_table``).
    chosen : int, optional
        Row label of the chosen trial, circled on both panels.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for algorithm, group in trials.groupby("algorithm"):
        left.scatter(group["n_personas"], group["stability"], label=algorithm, alpha=0.8)
        right.scatter(group["silhouette"], group["stability"], label=algorithm, alpha=0.8)
    if chosen is not None:
        row = trials.loc[chosen]
        for ax, x in ((left, row["n_personas"]), (right, row["silhouette"])):
            ax.scatter([x], [row["stability"]], s=220, facecolors="none", edgecolors="black",
                       linewidths=1.5, label="chosen")  # fmt: skip
    left.set_xlabel("personas found")
    left.set_ylabel("bootstrap stability (mean ARI)")
    right.set_xlabel("silhouette")
    right.set_ylabel("bootstrap stability (mean ARI)")
    left.set_ylim(-0.05, 1.05)
    right.set_ylim(-0.05, 1.05)
    left.legend(fontsize=8)
    fig.suptitle("Persona search: stability against size and separation")
    fig.tight_layout()
    return fig
