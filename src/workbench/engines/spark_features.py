"""User features on Spark DataFrames, equal to :mod:`workbench.features.rfm`'s on the same events.

Quintile scores use the same mid-rank rule (average ranks for ties): the distinct values are
counted, their cumulative counts give each value's average rank, and the scores join back, so
only the distinct values (not every user) pass through the one ordered window.
"""

from __future__ import annotations

import pandas as pd

from workbench.features.rfm import N_SCORES, SECONDS_PER_DAY


def quintile_scores(frame, column: str, score: str, higher_is_better: bool = True):
    """``frame`` with ``score``: 1-5 by mid-rank percentile of ``column`` (nulls stay null).

    Parameters
    ----------
    frame : pyspark.sql.DataFrame of shape (n_users, ...)
    column, score : str
        The value's column and the score's.
    higher_is_better : bool
        When False (recency), the smallest value scores highest.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    frame = frame.localCheckpoint()  # float sums recomputed in another order would not join
    signed = F.col(column) if higher_is_better else -F.col(column)
    counts = frame.filter(signed.isNotNull()).groupBy(signed.alias("_value")).count()
    n_valid = frame.filter(signed.isNotNull()).count()
    if n_valid == 0:
        return frame.withColumn(score, F.lit(None).cast("double"))
    running = Window.orderBy("_value").rowsBetween(Window.unboundedPreceding, 0)
    rank = F.sum("count").over(running) - (F.col("count") - 1) / 2.0
    percentile = (rank - 0.5) / n_valid
    scored = counts.select(
        "_value",
        F.least(F.greatest(F.floor(N_SCORES * percentile) + 1, F.lit(1)), F.lit(N_SCORES))
        .cast("double").alias(score),
    )  # fmt: skip
    return frame.join(F.broadcast(scored), signed == F.col("_value"), "left").drop("_value")


def rfm(events, as_of: pd.Timestamp, transaction_types=("purchase",), monetary: bool = True):
    """Recency, frequency, monetary value and quintile scores per customer, as
    :func:`workbench.features.rfm.rfm` computes them.

    Parameters
    ----------
    events : pyspark.sql.DataFrame of shape (n_events, >=4)
        Contract events (``user_id``, ``event_type``, ``timestamp``, ``revenue``).
    as_of : Timestamp
        UTC reference time; later events are ignored.
    transaction_types : tuple of str
    monetary : bool

    Returns
    -------
    pyspark.sql.DataFrame of shape (n_customers, 6 or 8)
        ``user_id``, ``recency_days``, ``frequency``, (``monetary``), ``r_score``, ``f_score``,
        (``m_score``) and ``rfm_score``.
    """
    from pyspark.sql import functions as F

    as_of_micros = int(pd.Timestamp(as_of).tz_convert("UTC").value // 1_000)
    events = events.filter(F.unix_micros("timestamp") <= as_of_micros)
    bought = events.filter(F.col("event_type").isin(list(transaction_types)))
    sessions = "session_id" in events.columns and (
        bought.filter(F.col("session_id").isNull()).limit(1).count() == 0
    )
    frequency = F.countDistinct("session_id") if sessions else F.count(F.lit(1))
    table = bought.groupBy("user_id").agg(
        ((F.lit(as_of_micros) - F.max(F.unix_micros("timestamp"))) / 1e6 / SECONDS_PER_DAY)
        .alias("recency_days"),
        frequency.cast("double").alias("frequency"),
        F.coalesce(F.sum("revenue"), F.lit(0.0)).alias("_spent"),
    )  # fmt: skip
    table = quintile_scores(table, "recency_days", "r_score", higher_is_better=False)
    table = quintile_scores(table, "frequency", "f_score")
    scores = [F.col("r_score"), F.col("f_score")]
    if monetary:
        refunds = (
            events.filter(F.col("event_type") == "return")
            .groupBy("user_id")
            .agg(F.abs(F.coalesce(F.sum("revenue"), F.lit(0.0))).alias("_refunds"))
        )
        table = table.join(refunds, "user_id", "left").withColumn(
            "monetary", F.col("_spent") - F.coalesce(F.col("_refunds"), F.lit(0.0))
        )
        table = quintile_scores(table, "monetary", "m_score")
        scores.append(F.col("m_score"))
    table = table.withColumn("rfm_score", sum(scores[1:], scores[0]))
    return table.drop("_spent", "_refunds")
