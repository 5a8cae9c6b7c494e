"""Recency, frequency and monetary value per user, with 1-5 quintile scores.

A *transaction* is an event of one of ``transaction_types`` (purchases by default). Sources
without prices (MovieLens: every event is a rating) get recency and frequency only: the caller
passes ``transaction_types=("rating",)`` and there is no monetary column, so ``rfm_score`` sums
two scores instead of three (see ``build_user_features``).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

N_SCORES = 5
SECONDS_PER_DAY = 86_400.0


def quintile_scores(values: pd.Series, higher_is_better: bool = True) -> pd.Series:
    """Scores 1-5 by percentile rank; ties share a score, so the result is order independent.

    The mid-rank percentile of a value is ``p = (rank - 0.5) / n`` with average ranks for ties,
    and its score is ``floor(5 * p) + 1``: ten distinct values score 1, 1, 2, 2, ..., 5, 5.

    Parameters
    ----------
    values : Series of shape (n_users,)
        Missing values score NaN.
    higher_is_better : bool
        When False (recency in days), the smallest value gets the highest score.

    Returns
    -------
    Series of shape (n_users,)
        Float scores in 1..5 (float so that NaN can stand for missing).
    """
    ranked = (values if higher_is_better else -values).rank(method="average")
    n_valid = int(ranked.notna().sum())
    if n_valid == 0:
        return pd.Series(np.nan, index=values.index, dtype=float)
    percentile = (ranked - 0.5) / n_valid
    scores = np.floor(N_SCORES * percentile) + 1
    return scores.clip(1, N_SCORES).astype(float)


def rfm(
    events: pd.DataFrame,
    as_of: pd.Timestamp,
    transaction_types: tuple[str, ...] = ("purchase",),
    monetary: bool = True,
) -> pd.DataFrame:
    """Recency, frequency, monetary value and their quintile scores, one row per customer.

    Parameters
    ----------
    events : DataFrame of shape (n_events, >=4)
        Contract ``events`` with ``user_id``, ``event_type``, ``timestamp`` and ``revenue``;
        events after ``as_of`` are ignored.
    as_of : Timestamp
        The reference time (UTC) recency is measured from.
    transaction_types : tuple of str
        Event types that count as transactions.
    monetary : bool
        Whether to compute ``monetary`` (sum of ``revenue`` of transactions minus returns).

    Returns
    -------
    DataFrame of shape (n_customers, 5 or 7), indexed by ``user_id``
        ``recency_days`` (days since the last transaction), ``frequency`` (distinct
        transactions: sessions when present, else events), ``monetary`` (when asked),
        ``r_score``, ``f_score``, ``m_score`` (when monetary) and ``rfm_score``.
    """
    events = events[events["timestamp"] <= as_of]
    bought = events[events["event_type"].isin(transaction_types)]
    grouped = bought.groupby("user_id", sort=True)
    last = grouped["timestamp"].max()
    table = pd.DataFrame(index=last.index)
    table["recency_days"] = (as_of - last).dt.total_seconds() / SECONDS_PER_DAY
    table["frequency"] = _transaction_counts(bought).reindex(table.index).astype(float)
    scores = ["r_score", "f_score"]
    table["r_score"] = quintile_scores(table["recency_days"], higher_is_better=False)
    table["f_score"] = quintile_scores(table["frequency"])
    if monetary:
        table["monetary"] = _net_revenue(events, bought).reindex(table.index).fillna(0.0)
        table["m_score"] = quintile_scores(table["monetary"])
        scores.append("m_score")
    table["rfm_score"] = table[scores].sum(axis=1)
    table.index.name = "user_id"
    log.info("rfm: %d customers from %d transactions", len(table), len(bought))
    return table


def _transaction_counts(bought: pd.DataFrame) -> pd.Series:
    """Distinct transactions per user: orders (session ids) when known, else events."""
    if "session_id" in bought and bought["session_id"].notna().all():
        return bought.groupby("user_id")["session_id"].nunique()
    return bought.groupby("user_id").size()


def _net_revenue(events: pd.DataFrame, bought: pd.DataFrame) -> pd.Series:
    """Revenue of transactions minus the (absolute) revenue of returns, per user."""
    spent = bought.groupby("user_id")["revenue"].sum(min_count=1).fillna(0.0)
    returned = events[events["event_type"] == "return"]
    refunds = returned.groupby("user_id")["revenue"].sum().abs()
    return spent.sub(refunds, fill_value=0.0)
