"""User features on Spark DataFrames (RFM, engagement, context), equal to those of
:mod:`workbench.features` on the same events.

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


def _as_of_micros(as_of: pd.Timestamp) -> int:
    return int(pd.Timestamp(as_of).tz_convert("UTC").value // 1_000)


def _days_before(as_of_micros: int, micros):
    from pyspark.sql import functions as F

    return (F.lit(as_of_micros) - micros) / 1e6 / SECONDS_PER_DAY


def _counts_by(frame, column: str, names: dict[str, str], total: str | None = None):
    """Per user, the count (or share of ``total``) of each value of ``column``, columns
    ``names[value]`` in ``names``' order, 0 where a user has none."""
    from pyspark.sql import functions as F

    wide = frame.groupBy("user_id").pivot(column, list(names)).count().fillna(0)
    if total is None:
        return wide.select("user_id", *[F.col(f"`{v}`").cast("double").alias(n)
                                        for v, n in names.items()])  # fmt: skip
    sums = sum((F.col(f"`{v}`") for v in names), F.lit(0))
    return wide.select("user_id", *[(F.col(f"`{v}`") / sums).alias(n) for v, n in names.items()])


def engagement(events, as_of: pd.Timestamp):
    """Activity counts per user, as :func:`workbench.features.engagement.engagement`.

    Parameters
    ----------
    events : pyspark.sql.DataFrame of shape (n_events, >=4)
        Contract events; events after ``as_of`` are ignored.
    as_of : Timestamp

    Returns
    -------
    pyspark.sql.DataFrame of shape (n_users, 8 + n_event_types)
        ``user_id`` and the pandas function's columns, in its order.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    from workbench.features.engagement import SESSION_GAP

    now = _as_of_micros(as_of)
    events = events.filter(F.unix_micros("timestamp") <= now)
    micros = F.unix_micros("timestamp")
    given = "session_id" in events.columns and (
        events.filter(F.col("session_id").isNull()).limit(1).count() == 0
    )
    if given:
        events = events.withColumn("_session", F.col("session_id"))
    else:  # a new session after every pause longer than the gap, as session_ids infers
        ordered = Window.partitionBy("user_id").orderBy(micros)
        pause = (micros - F.lag(micros).over(ordered)) > SESSION_GAP.value // 1_000
        start = F.coalesce(pause, F.lit(True)).cast("long")
        running = ordered.rowsBetween(Window.unboundedPreceding, 0)
        events = events.withColumn("_start", start).withColumn(
            "_session", F.sum("_start").over(running)
        )
    table = events.groupBy("user_id").agg(
        F.count(F.lit(1)).cast("double").alias("n_events"),
        F.countDistinct("_session").cast("double").alias("n_sessions"),
        F.countDistinct(F.to_date("timestamp")).cast("double").alias("days_active"),
        _days_before(now, F.min(micros)).alias("tenure_days"),
        _days_before(now, F.max(micros)).alias("days_since_last_event"),
    )
    table = table.withColumn("events_per_session", F.col("n_events") / F.col("n_sessions"))
    share = F.col("days_active") / F.greatest(F.ceil("tenure_days"), F.lit(1))
    table = table.withColumn("active_day_share", share.cast("double"))
    kinds = sorted(row[0] for row in events.select("event_type").distinct().collect())
    counts = _counts_by(events, "event_type", {kind: f"n_{kind}" for kind in kinds})
    order = ["user_id", "n_events", "n_sessions", "days_active", "events_per_session",
             "tenure_days", "days_since_last_event", "active_day_share"]  # fmt: skip
    return table.select(*order).join(counts, "user_id", "left")


def context(events, as_of: pd.Timestamp):
    """Daypart, weekend, seasonality, device and channel habits per user, as
    :func:`workbench.features.context.context` (hours and weekdays in UTC).

    Parameters
    ----------
    events : pyspark.sql.DataFrame of shape (n_events, >=3)
        Contract events; ``device`` and ``channel`` are used when present.
    as_of : Timestamp

    Returns
    -------
    pyspark.sql.DataFrame of shape (n_users, n_columns + 1)
        ``user_id`` and the pandas function's columns, in its order.
    """
    from pyspark.sql import functions as F

    from workbench.features.context import DAYPARTS, slug

    events = events.filter(F.unix_micros("timestamp") <= _as_of_micros(as_of))
    hour = F.hour("timestamp")
    share = {f"daypart_{part}": F.avg(((hour >= start) & (hour < stop)).cast("double"))
             for part, (start, stop) in DAYPARTS.items()}  # fmt: skip
    share["weekend_share"] = F.avg(F.dayofweek("timestamp").isin(1, 7).cast("double"))
    table = events.groupBy("user_id").agg(*[value.alias(name) for name, value in share.items()])
    months = events.groupBy("user_id", F.date_format("timestamp", "yyyy-MM")).count()
    top = months.groupBy("user_id").agg(F.max("count").alias("_top"))
    totals = events.groupBy("user_id").agg(F.count(F.lit(1)).alias("_n"))
    top = top.join(totals, "user_id").select(
        "user_id", (F.col("_top") / F.col("_n")).alias("top_month_share")
    )
    table = table.join(top, "user_id")
    for column in ("device", "channel"):
        if column not in events.columns:
            continue
        values = [
            row[0] for row in events.select(column).distinct().collect() if row[0] is not None
        ]
        if not values:
            continue
        slugs = sorted({slug(value) for value in values})
        to_slug = F.create_map(*[F.lit(x) for value in values for x in (value, slug(value))])
        known = events.filter(F.col(column).isNotNull()).withColumn("_slug", to_slug[F.col(column)])
        names = {s: f"{column}_{s}" for s in slugs}
        shares = _counts_by(known, "_slug", names, total="all")
        top_share = (
            F.greatest(*[F.col(n) for n in names.values()])
            if len(names) > 1
            else F.col(names[slugs[0]])
        )
        main = F.coalesce(*[F.when(F.col(n) == top_share, F.lit(s)) for s, n in names.items()])
        table = table.join(shares.withColumn(f"main_{column}", main), "user_id", "left")
    return table


class SparkFeatures:
    """The per-user feature kernels of ``build_user_features`` (``engagement``, ``rfm``,
    ``context``) on Spark: pandas events in, pandas tables indexed by ``user_id`` out.

    Parameters
    ----------
    spark : SparkSession
    """

    COLUMNS = {"user_id": "string", "item_id": "string", "event_type": "string",
               "timestamp": "timestamp", "revenue": "double", "session_id": "string",
               "device": "string", "channel": "string"}  # fmt: skip

    def __init__(self, spark):
        self.spark = spark
        self._last = (None, None)

    def frame(self, events: pd.DataFrame):
        """``events``' contract columns as a cached Spark DataFrame (one conversion per frame)."""
        if self._last[0] is events:
            return self._last[1]
        from pyspark.sql import types as T

        kinds = {"string": T.StringType(), "timestamp": T.TimestampType(), "double": T.DoubleType()}
        columns = [c for c in self.COLUMNS if c in events]
        table = events[columns].copy()
        for column in columns:
            if self.COLUMNS[column] == "string":
                text = table[column].astype(object)
                table[column] = text.astype(str).where(text.notna(), None)
            elif self.COLUMNS[column] == "double":
                table[column] = table[column].astype(float)
        schema = T.StructType([T.StructField(c, kinds[self.COLUMNS[c]]) for c in columns])
        frame = self.spark.createDataFrame(table, schema).cache()
        self._last = (events, frame)
        return frame

    @staticmethod
    def _indexed(frame) -> pd.DataFrame:
        return frame.toPandas().set_index("user_id").sort_index()

    def engagement(self, events: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
        return self._indexed(engagement(self.frame(events), as_of))

    def rfm(self, events: pd.DataFrame, as_of: pd.Timestamp, **options) -> pd.DataFrame:
        return self._indexed(rfm(self.frame(events), as_of, **options))

    def context(self, events: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
        return self._indexed(context(self.frame(events), as_of))
