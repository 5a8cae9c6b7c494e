"""A seeded generator of a content site with structure that later notebooks must recover.

Users belong to one of a few planted segments (kept as ``planted_segment`` in the users
table, the truth personas are scored against). A segment fixes the users' category
preferences, their purchase propensity, the hours they are active and the devices and
channels they use. Events are sessions of views, some followed by clicks, add-to-carts and
purchases with revenue. Everything is vectorized, so a million users is a parameter away.

The planted ground truth, which ``50_conversion`` and ``benchmarks/conversion.py`` score against:

- **Sessions.** User ``u`` of segment ``s`` has an activity ``a_u ~ Gamma(2, 0.5)`` and
  ``N_u ~ Poisson(sessions_per_week_s / 7 * n_days * a_u)`` sessions on uniformly drawn days, so
  the sessions of any window of ``h`` days are Poisson with mean ``rate_u * h`` and independent of
  the sessions before it (Poisson thinning): the past tells about the future only through
  ``rate_u = sessions_per_week_s / 7 * a_u`` (sessions per day).
- **Impressions and clicks.** A session shows ``1 + Poisson(3)`` items (``view`` events, the
  impressions); each is clicked with probability 0.35, a click is carted with probability 0.3 and
  a cart bought with the segment's ``purchase_rate`` (``q_s = 0.105 * purchase_rate`` per view).
- **Conversion.** A session converts (has a purchase) with probability
  ``c_s = 1 - (1 - q_s) * exp(-3 q_s)``, so converting sessions arrive at
  ``planted_conversion_rate = rate_u * c_s`` per day (a users column) and the true probability
  of at least one purchase in ``(T, T + h]`` is ``1 - exp(-planted_conversion_rate * h)``
  (:func:`conversion_probability`), whatever happened up to ``T``.
- **Revenue.** A purchase buys ``1 + Poisson(0.3)`` units at the item's price (log-normal,
  median ``exp(3)``).
- **Dwell time.** The ``value`` of a ``view`` is its dwell time in seconds, log-normal:
  ``log dwell = log 20 + 0.7 [item in the segment's favourite category] - 0.3 [mobile]
  + 0.5 [clicked] + N(0, 0.5^2)`` (:data:`DWELL_MODEL`), drawn from its own random stream so
  that every other column is what it was before dwell times were planted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from workbench.data.contract import EVENTS
from workbench.data.sources.base import Source

CATEGORIES = (
    "fashion",
    "sports",
    "electronics",
    "home",
    "books",
    "beauty",
    "travel",
    "food",
)
_WORDS = {
    "fashion": "dress jacket denim silk style summer collection linen boots",
    "sports": "running trail yoga fitness training football cycling outdoor gear",
    "electronics": "wireless headphones laptop camera battery smart charger screen audio",
    "home": "kitchen sofa lamp garden cotton bedding ceramic storage decor",
    "books": "novel thriller history poetry biography paperback fantasy classic edition",
    "beauty": "serum skincare fragrance lipstick organic cream hair glow natural",
    "travel": "luggage backpack passport city guide weekend island adventure map",
    "food": "coffee chocolate organic tea spices recipe gourmet olive snack",
}


@dataclass(frozen=True)
class Segment:
    """A planted group of users."""

    name: str
    categories: tuple[float, ...]  # preference weights over CATEGORIES
    purchase_rate: float  # probability that a cart becomes a purchase
    peak_hour: int  # hour of day around which sessions happen
    devices: tuple[float, float, float]  # mobile, desktop, tablet
    channels: tuple[float, float, float, float]  # direct, search, social, email
    age_range: tuple[int, int]
    sessions_per_week: float


SEGMENTS = (
    Segment(
        "evening_mobile_fashion",
        (6, 0.5, 0.5, 1, 0.3, 4, 0.5, 0.5),
        0.35,
        21,
        (0.85, 0.1, 0.05),
        (0.1, 0.2, 0.6, 0.1),
        (18, 34),
        3.0,
    ),
    Segment(
        "morning_desktop_tech",
        (0.3, 1, 7, 1, 1.5, 0.2, 0.5, 0.3),
        0.2,
        8,
        (0.15, 0.8, 0.05),
        (0.3, 0.5, 0.05, 0.15),
        (25, 54),
        2.0,
    ),
    Segment(
        "weekend_home_foodies",
        (0.5, 0.3, 0.5, 6, 1, 0.5, 1, 5),
        0.5,
        14,
        (0.3, 0.3, 0.4),
        (0.4, 0.2, 0.1, 0.3),
        (35, 69),
        1.5,
    ),
    Segment(
        "active_travellers",
        (1, 6, 1, 0.3, 1, 0.5, 5, 0.5),
        0.25,
        18,
        (0.6, 0.3, 0.1),
        (0.2, 0.4, 0.3, 0.1),
        (22, 44),
        2.5,
    ),
)
DEVICES = ("mobile", "desktop", "tablet")
CHANNELS = ("direct", "search", "social", "email")
COUNTRIES = ("GB", "DE", "FR", "NL", "ES", "IT")
#: Log-dwell model of views: intercept, favourite-category, mobile and clicked effects, noise sd.
DWELL_MODEL = {
    "intercept": np.log(20.0),
    "favourite": 0.7,
    "mobile": -0.3,
    "clicked": 0.5,
    "sd": 0.5,
}
#: Probability that a view is clicked, a click carted (times the segment's purchase rate: bought).
CLICK_RATE, CART_RATE, VIEWS_EXTRA = 0.35, 0.3, 3.0


def load(raw_dir: Path | None = None, mirror: Path | None = None, **options) -> dict:
    """Source entry point: ``generate(**options)`` (the folders are unused)."""
    return generate(**options)


def generate(
    n_users: int = 2000,
    n_items: int = 400,
    n_days: int = 60,
    seed: int = 42,
    start: str = "2026-01-01",
    withdrawal_rate: float = 0.03,
) -> dict[str, pd.DataFrame]:
    """Generate the contract tables of a synthetic content site.

    Parameters
    ----------
    n_users, n_items, n_days : int
        Size of the site; events grow about linearly with ``n_users * n_days``.
    seed : int
        Everything is a function of the seed.
    start : str
        First day (UTC).
    withdrawal_rate : float
        Share of users who withdraw personalization consent during the period.

    Returns
    -------
    dict of str to DataFrame
        ``events``, ``users`` (with the truths ``planted_segment`` and
        ``planted_conversion_rate``), ``items``, ``consent``.
    """
    rng = np.random.default_rng(seed)
    origin = pd.Timestamp(start, tz="UTC")
    items = _items(n_items, rng)
    users = _users(n_users, n_days, origin, rng)
    events, activity = _events(users, items, n_days, origin, rng)
    users["planted_conversion_rate"] = _conversion_rate(users, activity)
    events = _plant_dwell(events, users, items, np.random.default_rng([seed, 50]))
    consent = _consent(users, n_days, origin, withdrawal_rate, rng)
    items = items.drop(columns=["primary_category", "popularity"])
    return {"events": events, "users": users, "items": items, "consent": consent}


def _items(n_items: int, rng: np.random.Generator) -> pd.DataFrame:
    category = rng.integers(0, len(CATEGORIES), n_items)
    second = np.where(rng.random(n_items) < 0.3, rng.integers(0, len(CATEGORIES), n_items), -1)
    price = np.round(np.exp(rng.normal(3.0, 0.7, n_items)), 2)
    titles, texts, categories = [], [], []
    for index, (first, other) in enumerate(zip(category, second, strict=True)):
        words = _WORDS[CATEGORIES[first]].split()
        chosen = rng.choice(words, size=4, replace=False)
        names = [CATEGORIES[first]] + ([CATEGORIES[other]] if other not in (-1, first) else [])
        titles.append(f"{chosen[0].title()} {chosen[1]} #{index}")
        texts.append(f"A {chosen[2]} {chosen[3]} pick from our {' and '.join(names)} range.")
        categories.append(names)
    return pd.DataFrame(
        {
            "item_id": [f"i{index:05d}" for index in range(n_items)],
            "title": titles,
            "text": texts,
            "categories": categories,
            "price": price,
            "primary_category": category,
            "popularity": rng.zipf(1.6, n_items).clip(1, 200).astype(float),
        }
    )


def _users(n_users: int, n_days: int, origin, rng: np.random.Generator) -> pd.DataFrame:
    segment = rng.integers(0, len(SEGMENTS), n_users)
    low = np.array([SEGMENTS[s].age_range[0] for s in segment])
    high = np.array([SEGMENTS[s].age_range[1] for s in segment])
    signup = origin - pd.to_timedelta(rng.integers(0, 365, n_users), unit="D")
    return pd.DataFrame(
        {
            "user_id": [f"u{index:07d}" for index in range(n_users)],
            "age": rng.integers(low, high + 1),
            "gender": rng.choice(["f", "m", "x"], n_users, p=[0.48, 0.48, 0.04]),
            "country": rng.choice(COUNTRIES, n_users, p=[0.4, 0.2, 0.15, 0.1, 0.1, 0.05]),
            "signup_time": signup.astype("datetime64[us, UTC]"),
            "planted_segment": [SEGMENTS[s].name for s in segment],
        }
    )


def _events(
    users, items, n_days, origin, rng: np.random.Generator
) -> tuple[pd.DataFrame, np.ndarray]:
    """The events table, and each user's activity multiplier ``a_u`` of shape (n_users,)."""
    segment_of = {s.name: index for index, s in enumerate(SEGMENTS)}
    user_segment = users["planted_segment"].map(segment_of).to_numpy()
    rate = np.array([SEGMENTS[s].sessions_per_week for s in user_segment]) * n_days / 7
    activity = rng.gamma(2.0, 0.5, len(users))
    n_sessions = rng.poisson(rate * activity)
    session_user = np.repeat(np.arange(len(users)), n_sessions)
    session_segment = user_segment[session_user]
    n_total = len(session_user)
    peak = np.array([s.peak_hour for s in SEGMENTS])[session_segment]
    hour = np.mod(np.rint(rng.normal(peak, 2.0)), 24)
    day = rng.integers(0, n_days, n_total)
    seconds = day * 86400 + hour * 3600 + rng.integers(0, 3600, n_total)
    device = _choose(np.array([s.devices for s in SEGMENTS])[session_segment], rng)
    channel = _choose(np.array([s.channels for s in SEGMENTS])[session_segment], rng)
    views_per_session = 1 + rng.poisson(3.0, n_total)
    view_session = np.repeat(np.arange(n_total), views_per_session)
    view_item = _pick_items(users, items, session_user[view_session], rng)
    gaps = rng.integers(5, 120, len(view_session))
    elapsed = np.cumsum(gaps)
    first_view = np.cumsum(views_per_session) - views_per_session
    view_seconds = seconds[view_session] + elapsed - (elapsed - gaps)[first_view][view_session]
    frame = _funnel(view_session, view_item, view_seconds, session_segment, items, rng)
    frame["user_id"] = users["user_id"].to_numpy()[session_user[frame["session"]]]
    frame["device"] = np.asarray(DEVICES)[device[frame["session"]]]
    frame["channel"] = np.asarray(CHANNELS)[channel[frame["session"]]]
    frame["country"] = users["country"].to_numpy()[session_user[frame["session"]]]
    frame["session_id"] = "s" + frame["session"].astype(str)
    frame["timestamp"] = (origin + pd.to_timedelta(frame["seconds"], unit="s")).astype(
        "datetime64[us, UTC]"
    )
    frame = frame.sort_values(["timestamp", "session"], kind="stable").reset_index(drop=True)
    frame["event_id"] = "e" + pd.Series(np.arange(len(frame)), dtype=str).str.zfill(9)
    return frame[list(EVENTS.columns)], activity


def _choose(probabilities: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One index per row of ``probabilities`` (n_rows, n_options), rows summing to 1."""
    cumulative = np.cumsum(probabilities, axis=1)
    draws = rng.random(len(probabilities))[:, None] * cumulative[:, -1:]
    return (draws > cumulative).sum(axis=1)


def _pick_items(users, items, view_user, rng: np.random.Generator) -> np.ndarray:
    """Items viewed: a category from the user's segment and own taste, then popularity."""
    segment_of = {s.name: index for index, s in enumerate(SEGMENTS)}
    user_segment = users["planted_segment"].map(segment_of).to_numpy()
    taste = np.array([s.categories for s in SEGMENTS])[user_segment]
    personal = rng.gamma(0.5, 1.0, taste.shape) * taste.mean(axis=1, keepdims=True)
    preference = taste + personal
    preference /= preference.sum(axis=1, keepdims=True)
    category = _choose(preference[view_user], rng)
    primary = items["primary_category"].to_numpy()
    weights = items["popularity"].to_numpy()
    chosen = np.empty(len(view_user), dtype=np.int64)
    for index in range(len(CATEGORIES)):
        members = np.flatnonzero(primary == index)
        mask = category == index
        if len(members) == 0:
            members = np.arange(len(items))
        p = weights[members] / weights[members].sum()
        chosen[mask] = rng.choice(members, size=mask.sum(), p=p)
    return chosen


def _funnel(view_session, view_item, view_seconds, session_segment, items, rng) -> pd.DataFrame:
    """Views, and the clicks, carts and purchases that follow some of them."""
    purchase_rate = np.array([s.purchase_rate for s in SEGMENTS])[session_segment[view_session]]
    clicked = rng.random(len(view_item)) < CLICK_RATE
    carted = clicked & (rng.random(len(view_item)) < CART_RATE)
    bought = carted & (rng.random(len(view_item)) < purchase_rate)
    parts = []
    for event_type, mask, offset in (
        ("view", np.ones(len(view_item), bool), 0),
        ("click", clicked, 2),
        ("add_to_cart", carted, 30),
        ("purchase", bought, 300),
    ):
        quantity = np.where(event_type == "purchase", 1 + rng.poisson(0.3, mask.sum()), np.nan)
        price = items["price"].to_numpy()[view_item[mask]]
        parts.append(
            pd.DataFrame(
                {
                    "session": view_session[mask],
                    "item_id": items["item_id"].to_numpy()[view_item[mask]],
                    "event_type": event_type,
                    "value": quantity if event_type == "purchase" else 1.0,
                    "revenue": np.round(price * quantity, 2),
                    "seconds": view_seconds[mask] + offset,
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def _conversion_rate(users: pd.DataFrame, activity: np.ndarray) -> np.ndarray:
    """Converting sessions per day of each user, ``rate_u * c_s`` (see the module docstring)."""
    segment = users["planted_segment"].map({s.name: i for i, s in enumerate(SEGMENTS)})
    segment = segment.to_numpy()
    sessions_per_day = np.array([s.sessions_per_week for s in SEGMENTS])[segment] / 7 * activity
    buy = CLICK_RATE * CART_RATE * np.array([s.purchase_rate for s in SEGMENTS])[segment]
    return sessions_per_day * (1.0 - (1.0 - buy) * np.exp(-VIEWS_EXTRA * buy))


def conversion_probability(conversion_rate, horizon_days: float) -> np.ndarray:
    """True probability of at least one purchase within ``horizon_days`` after any cut-off.

    Parameters
    ----------
    conversion_rate : array-like of shape (n_users,)
        ``planted_conversion_rate`` of the users table (converting sessions per day).
    horizon_days : float

    Returns
    -------
    ndarray of shape (n_users,)
    """
    return 1.0 - np.exp(-np.asarray(conversion_rate, dtype=float) * horizon_days)


def _plant_dwell(events, users, items, rng: np.random.Generator) -> pd.DataFrame:
    """Views get their dwell time in seconds as ``value`` (:data:`DWELL_MODEL`)."""
    views = (events["event_type"] == "view").to_numpy()
    segment_of = dict(zip(users["user_id"], users["planted_segment"], strict=True))
    favourite = {s.name: CATEGORIES[int(np.argmax(s.categories))] for s in SEGMENTS}
    primary = dict(zip(items["item_id"], items["primary_category"], strict=True))
    seen = events.loc[views]
    liked = (
        seen["user_id"].map(segment_of).map(favourite).to_numpy()
        == np.asarray(CATEGORIES, dtype=object)[seen["item_id"].map(primary).to_numpy()]
    )
    clicks = events.loc[events["event_type"] == "click", ["session_id", "item_id"]]
    clicked = pd.MultiIndex.from_frame(seen[["session_id", "item_id"]]).isin(
        pd.MultiIndex.from_frame(clicks)
    )
    model = DWELL_MODEL
    log_dwell = (
        model["intercept"]
        + model["favourite"] * liked
        + model["mobile"] * (seen["device"] == "mobile").to_numpy()
        + model["clicked"] * clicked
        + rng.normal(0.0, model["sd"], len(seen))
    )
    events = events.copy()
    events.loc[views, "value"] = np.round(np.exp(log_dwell), 1)
    return events


def _consent(users, n_days, origin, withdrawal_rate, rng: np.random.Generator) -> pd.DataFrame:
    """Consent at signup for both purposes, and some later withdrawals of personalization."""
    n_users = len(users)
    granted = rng.random((n_users, 2)) < np.array([0.96, 0.9])
    base = pd.DataFrame(
        {
            "user_id": np.repeat(users["user_id"].to_numpy(), 2),
            "purpose": np.tile(["personalization", "analytics"], n_users),
            "granted": granted.ravel(),
            "timestamp": np.repeat(users["signup_time"].to_numpy(), 2),
        }
    )
    withdrawn = rng.random(n_users) < withdrawal_rate
    later = origin + pd.to_timedelta(rng.integers(0, n_days * 86400, withdrawn.sum()), unit="s")
    withdrawals = pd.DataFrame(
        {
            "user_id": users["user_id"].to_numpy()[withdrawn],
            "purpose": "personalization",
            "granted": False,
            "timestamp": later.astype("datetime64[us, UTC]"),
        }
    )
    consent = pd.concat([base, withdrawals], ignore_index=True)
    consent["timestamp"] = consent["timestamp"].astype("datetime64[us, UTC]")
    return consent


SOURCE = Source("synthetic", load)
