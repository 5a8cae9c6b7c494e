"""Fit a :class:`~workbench.bandits.environments.BanditSimulator` on curated interactions.

From the contract's ``events`` table: every exposure of a user to an item (a ``view``, or any
event when there are no views; a ``rating`` for rating data) is one pull of that item's arm (its
first category, or the item itself); its reward is 1 when the user also produced the reward event
(``click``, ``purchase``) on the item, or when the rating is at least ``rating_threshold``.
Users fall into context cells: their persona when a ``personas`` table is given, else a
combination of low-cardinality demographic columns of ``users``, else their favourite arm.
The true value of an arm in a cell is its observed reward rate there, shrunk toward the arm's
overall rate with ``prior_strength`` pseudo-exposures, so sparse cells stay sane.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from workbench.bandits.environments import BanditSimulator

log = logging.getLogger(__name__)


def exposures(
    events: pd.DataFrame,
    reward_event: str = "click",
    exposure_event: str = "view",
    rating_threshold: float = 4.0,
) -> pd.DataFrame:
    """One row per exposure with its 0/1 reward.

    Parameters
    ----------
    events : DataFrame
        Contract ``events``: ``user_id, item_id, event_type, value``.
    reward_event, exposure_event : str
    rating_threshold : float
        Used when the data are ratings (no ``reward_event`` rows but ``rating`` rows).

    Returns
    -------
    DataFrame
        ``user_id, item_id, reward``.
    """
    types = events["event_type"]
    if not (types == reward_event).any() and (types == "rating").any():
        ratings = events[types == "rating"]
        reward = (ratings["value"] >= rating_threshold).astype(float)
        return pd.DataFrame(
            {
                "user_id": ratings["user_id"].to_numpy(),
                "item_id": ratings["item_id"].to_numpy(),
                "reward": reward.to_numpy(),
            }
        )
    if not (types == reward_event).any():
        raise ValueError(f"no {reward_event!r} events and no ratings to derive rewards from")
    seen = events[types == exposure_event] if (types == exposure_event).any() else events
    pairs = seen[["user_id", "item_id"]].drop_duplicates()
    rewarded = events.loc[types == reward_event, ["user_id", "item_id"]].drop_duplicates()
    rewarded = rewarded.assign(reward=1.0)
    merged = pairs.merge(rewarded, on=["user_id", "item_id"], how="left")
    return merged.assign(reward=merged["reward"].fillna(0.0)).reset_index(drop=True)


def item_arms(items: pd.DataFrame | None, item_ids: pd.Series) -> pd.Series:
    """The arm label of each exposure's item: its first category, else the item id."""
    if items is None or "categories" not in items.columns:
        return item_ids.astype(str)
    first = items["categories"].map(
        lambda value: str(value[0]) if value is not None and len(value) > 0 else None
    )
    lookup = pd.Series(first.to_numpy(), index=items["item_id"].astype(str).to_numpy())
    return item_ids.astype(str).map(lookup).fillna(item_ids.astype(str))


def user_cells(
    users: pd.DataFrame | None,
    personas: pd.DataFrame | None,
    taste: pd.Series,
    max_levels: int = 6,
    max_columns: int = 2,
) -> tuple[pd.Series, str]:
    """The context cell of every user, and where it came from.

    Parameters
    ----------
    users : DataFrame, optional
        Contract ``users``; categorical columns with 2..``max_levels`` levels are used, and
        ``age`` in bands.
    personas : DataFrame, optional
        ``user_id`` and a ``persona`` column (or the first other column).
    taste : Series
        Fallback: each user's favourite arm, indexed by ``user_id``.

    Returns
    -------
    cells : Series of str indexed by user_id
    source : {"personas", "users", "taste"}
    """
    if personas is not None and len(personas.columns) > 1:
        column = "persona" if "persona" in personas.columns else _first_other(personas)
        cells = personas.set_index(personas["user_id"].astype(str))[column].astype(str)
        return cells.rename("cell"), "personas"
    columns = _demographic_columns(users, max_levels)[:max_columns] if users is not None else []
    if columns:
        frame = users.set_index(users["user_id"].astype(str))
        parts = [_levels(frame[column]).rename(column) for column in columns]
        cells = pd.concat(parts, axis=1).astype(str).agg("|".join, axis=1)
        return cells.rename("cell"), "users"
    return taste.astype(str).rename("cell"), "taste"


def _first_other(frame: pd.DataFrame) -> str:
    return next(column for column in frame.columns if column != "user_id")


def _levels(column: pd.Series) -> pd.Series:
    if column.name == "age" and pd.api.types.is_numeric_dtype(column):
        return pd.cut(column, [0, 25, 35, 50, np.inf], labels=["<25", "25-34", "35-49", "50+"])
    return column


def _demographic_columns(users: pd.DataFrame, max_levels: int) -> list[str]:
    chosen = []
    for name in users.columns:
        if name == "user_id" or name.startswith("planted"):
            continue  # planted_* is a generator's hidden truth, not an observable feature
        column = users[name]
        numeric = pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
        if name == "age" and numeric or not numeric and 2 <= column.nunique() <= max_levels:
            chosen.append(name)
    return chosen


def fit_simulator(
    events: pd.DataFrame,
    items: pd.DataFrame | None = None,
    users: pd.DataFrame | None = None,
    personas: pd.DataFrame | None = None,
    n_arms: int = 8,
    reward_event: str = "click",
    value_model: str = "auto",
    rating_threshold: float = 4.0,
    base_rate: float | None = None,
    max_cells: int = 12,
    prior_strength: float = 20.0,
) -> BanditSimulator:
    """Fit a semi-synthetic contextual bandit on real interactions.

    Two ways to give each (cell, arm) pair its true reward rate:

    - ``"rate"``: the observed reward rate of the cell's exposures to the arm (ratings at least
      ``rating_threshold``, or ``reward_event`` after a view). Right when exposures are logged
      and their outcome depends on the item, as with ratings.
    - ``"share"``: showing arm ``a`` to a user of cell ``c`` pays with probability
      ``base_rate * n_arms * share(c, a)``, where ``share`` is the cell's share of reward events
      in the arm; a uniformly random recommendation then pays ``base_rate`` on average. Right
      for implicit logs where clicks follow views at a flat rate and taste shows in *what* users
      engage with (the synthetic site, retail purchases).

    Parameters
    ----------
    events : DataFrame
        Contract ``events``.
    items, users, personas : DataFrame, optional
        Curated tables that give arms (item categories) and context cells.
    n_arms : int
        The most engaged arms are kept.
    reward_event : str
    value_model : {"auto", "rate", "share"}
        ``auto`` is ``rate`` for rating data and ``share`` otherwise.
    rating_threshold : float
    base_rate : float, optional
        For ``share``: the reward rate of a random recommendation; by default the number of
        ``reward_event`` events per ``view`` (0.05 when there are no views).
    max_cells : int
        The most populated cells are kept; the rest are merged into ``other``.
    prior_strength : float
        Pseudo-observations that shrink each cell toward the overall figures.

    Returns
    -------
    BanditSimulator
    """
    is_rating = not (events["event_type"] == reward_event).any()
    model = ("rate" if is_rating else "share") if value_model == "auto" else value_model
    if model == "rate":
        seen = exposures(events, reward_event, rating_threshold=rating_threshold)
    else:
        rewarded = events[events["event_type"] == reward_event]
        seen = rewarded[["user_id", "item_id"]].assign(reward=1.0)
    seen = seen.assign(arm=item_arms(items, seen["item_id"]).to_numpy())
    arms = seen.groupby("arm")["reward"].sum().sort_values(ascending=False).index[:n_arms]
    seen = seen[seen["arm"].isin(arms)]
    taste = seen.groupby("user_id")["arm"].agg(lambda values: values.value_counts().index[0])
    cells, source = user_cells(users, personas, taste)
    seen = seen.assign(cell=seen["user_id"].astype(str).map(cells).fillna("unknown").to_numpy())
    top = seen.drop_duplicates("user_id")["cell"].value_counts().index[:max_cells]
    seen["cell"] = seen["cell"].where(seen["cell"].isin(top), "other")
    arms = list(map(str, arms))
    if model == "rate":
        simulator = _from_rates(seen, arms, prior_strength)
    else:
        rate = base_rate if base_rate is not None else _reward_per_view(events, reward_event)
        simulator = _from_shares(seen, arms, rate, prior_strength)
    log.info(
        "simulator (%s): %d events, %d arms, %d cells from %s, optimal value %.4f",
        model,
        len(seen),
        simulator.n_actions,
        len(simulator.weights),
        source,
        simulator.optimal_value,
    )
    return simulator


def _reward_per_view(events: pd.DataFrame, reward_event: str) -> float:
    views = (events["event_type"] == "view").sum()
    if views == 0:
        return 0.05
    return float((events["event_type"] == reward_event).sum() / views)


def _table(seen: pd.DataFrame, cells: list[str], arms: list[str]) -> tuple[np.ndarray, ...]:
    """Reward sums and counts per (cell, arm), and users per cell."""
    stats = seen.groupby(["cell", "arm"])["reward"].agg(["sum", "count"])
    sums = stats["sum"].unstack().reindex(index=cells, columns=arms).fillna(0).to_numpy()
    counts = stats["count"].unstack().reindex(index=cells, columns=arms).fillna(0).to_numpy()
    users = seen.drop_duplicates("user_id")["cell"].value_counts().reindex(cells).to_numpy()
    return sums, counts, users


def _simulator(true_means: np.ndarray, users: np.ndarray, cells: list[str], arms: list[str]):
    return BanditSimulator(
        contexts=np.eye(len(cells)),
        weights=users / users.sum(),
        true_means=np.clip(true_means, 0.0, 0.99),
        action_names=arms,
        feature_names=[f"cell={name}" for name in cells],
    )


def _from_rates(seen: pd.DataFrame, arms: list[str], prior_strength: float) -> BanditSimulator:
    """True means: each cell's reward rate per arm, shrunk toward the arm's overall rate."""
    cells = sorted(seen["cell"].unique())
    sums, counts, users = _table(seen, cells, arms)
    arm_rate = sums.sum(axis=0) / np.maximum(counts.sum(axis=0), 1)
    true_means = (sums + prior_strength * arm_rate) / (counts + prior_strength)
    return _simulator(true_means, users, cells, arms)


def _from_shares(
    seen: pd.DataFrame, arms: list[str], base_rate: float, prior_strength: float
) -> BanditSimulator:
    """True means: ``base_rate * n_arms * share``, shares shrunk toward the overall share."""
    cells = sorted(seen["cell"].unique())
    sums, _, users = _table(seen, cells, arms)
    overall = sums.sum(axis=0) / sums.sum()
    shares = (sums + prior_strength * overall) / (sums.sum(axis=1, keepdims=True) + prior_strength)
    return _simulator(base_rate * len(arms) * shares, users, cells, arms)
