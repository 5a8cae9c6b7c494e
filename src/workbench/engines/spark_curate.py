"""Curation of events on Spark: the same checks, reason codes, pseudonyms and counts as pandas.

Events are the table that grows; users, items and consent stay small and are curated by the
pandas engine on the driver (:func:`dimension_ids` gives the ids events are checked against).
Curating events splits into what looks at one row and what looks across rows:

- per row (typing, timestamps, ranges, unknown ids, source rules, erasure, pseudonyms): the
  functions of :mod:`workbench.data.triage` run unchanged on each Spark partition
  (``mapInPandas``), so every reason code is the pandas engine's by construction;
- across rows: whether ``event_id`` embeds user ids (any row, so an OR over partitions),
  repeated event ids (exact repeats dropped, conflicting ones quarantined
  ``conflicting_duplicate``: a window over ``event_id``), counts that must reconcile.

Rows keep their source position in a ``_row`` column (:func:`with_row_numbers`), which the
quarantine reports as ``row``, as pandas does. Not on Spark yet: sources without event ids
(ids derived from content), the content rule (``drop_content_duplicates``) and links from
returns to purchases; :func:`curate_events` refuses them by name.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from workbench.data import dedup, output, privacy
from workbench.data.assemble import Curation, assemble
from workbench.data.contract import TIMESTAMP_DTYPE
from workbench.data.curate import dimension_parts, known_ids
from workbench.data.fields import SPECS
from workbench.data.quality import (
    QUARANTINE_COLUMNS,
    REASONS,
    FieldIssues,
    Verdicts,
    quarantine_records,
    reconcile,
)
from workbench.data.settings import CurationSettings
from workbench.data.standardize import normalize_column_names
from workbench.data.triage import (
    TablePart,
    curate_users,
    erase_and_pseudonymize,
    prepare,
    start,
)
from workbench.data.triage import curate_events as triage_events

log = logging.getLogger(__name__)

ROW = "_row"
FLOAT_COLUMNS = ("value", "revenue", "quantity", "unit_price", "price")
CONFLICT = REASONS.index("conflicting_duplicate") + 1


@dataclass
class SparkCuration:
    """Curated events (a Spark DataFrame), their quarantine and reconciled counts."""

    events: object
    quarantine: object
    counts: dict[str, int]
    fates: object = None
    """Every row: its curated form, ``_row``, ``_reason``, ``_column``, ``_duplicate``,
    ``_erased`` and ``_issues`` (``column:issue;`` pairs of optional values set to null)."""

    def to_pandas(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """``(events, quarantine)`` on the driver, in source order, typed as the contract."""
        events = self.events.orderBy(ROW).drop(ROW).toPandas()
        events["timestamp"] = pd.to_datetime(events["timestamp"], utc=True).astype(TIMESTAMP_DTYPE)
        quarantine = self.quarantine.orderBy("row").toPandas()
        return events, quarantine


def with_row_numbers(events):
    """``events`` with ``_row``: each row's 0-based position in the source.

    Positions come from each partition's offset (its rows counted once) plus the row's place
    in its partition, so no row travels through Python; the input's partitioning must be
    deterministic (files, a driver-side frame), as it is when read from a source.
    """
    from pyspark.sql import functions as F

    tagged = events.withColumn("_partition", F.spark_partition_id()).withColumn(
        "_position", F.monotonically_increasing_id()
    )
    sizes = tagged.groupBy("_partition").count().orderBy("_partition").collect()
    starts, total = [], 0
    for row in sizes:
        starts += [F.lit(row["_partition"]), F.lit(total)]
        total += row["count"]
    if not starts:
        return events.withColumn(ROW, F.lit(None).cast("long"))
    offset = F.create_map(*starts)[F.col("_partition")]
    within = F.col("_position") - F.shiftleft(F.col("_partition").cast("long"), 33)
    return tagged.withColumn(ROW, (offset + within).cast("long")).drop("_partition", "_position")


def dimension_ids(raw: dict[str, pd.DataFrame], settings: CurationSettings):
    """Known user ids, known item ids and user merges, from the small tables (pandas engine).

    Returns
    -------
    known_users, known_items : Series or None
        Raw ids events must use (None: the table is absent, anything goes).
    merges : DataFrame
        Linked user records (``dedup.MERGE_COLUMNS``).
    """
    known_users, known_items, merges = None, None, dedup.empty_merges()
    if "users" in raw:
        users, merges, _ = curate_users(prepare(raw["users"], "users"), settings)
        known_users = users.typed.loc[users.kept | users.duplicate, "user_id"]
    if "items" in raw:
        items = start(prepare(raw["items"], "items"), "items", settings)
        known_items = items.curated()["item_id"]
    return known_users, known_items, merges


def output_columns(input_columns, settings: CurationSettings) -> list[str]:
    """The curated events' columns: the allow-listed ones the input has, value and revenue."""
    present = set(normalize_column_names(list(input_columns))) | {"value", "revenue"}
    return [column for column in settings.event_columns if column in present]


def _spark_schema(columns: list[str]):
    from pyspark.sql import types as T

    def kind(column):
        if column == "timestamp":
            return T.TimestampType()
        return T.DoubleType() if column in FLOAT_COLUMNS else T.StringType()

    fields = [T.StructField(column, kind(column)) for column in columns]
    extra = [(ROW, T.LongType()), ("_reason", T.IntegerType()), ("_column", T.StringType()),
             ("_erased", T.BooleanType()), ("_signature", T.LongType()),
             ("_issues", T.StringType())]  # fmt: skip
    return T.StructType(fields + [T.StructField(name, kind) for name, kind in extra])


def triage_batch(batch, columns, settings, key, keyed, known_users, known_items, merges):
    """One partition's events typed, checked and pseudonymized (pandas, as the pandas engine).

    Returns
    -------
    DataFrame of shape (n_rows, len(columns) + 6)
        The curated form of every row (``columns``), its source row, first reason code
        (0: none), column at fault, whether its user was erased, a content signature and its
        field issues (``column:issue;`` pairs).
    """
    rows = batch[ROW].to_numpy()
    raw = prepare(batch.drop(columns=ROW), "events")
    part = triage_events(raw, settings, known_users, known_items)
    erase_and_pseudonymize(part, merges, settings, key)
    output.pseudonymize_id_columns(part.typed, key, keyed)
    content = part.typed[[column for column in part.typed.columns if column != "categories"]]
    signature = pd.util.hash_pandas_object(content, index=False).to_numpy().view(np.int64)
    table = part.typed.copy()
    table["timestamp"] = table["timestamp"].astype(TIMESTAMP_DTYPE)
    for column in columns:
        if column not in table:
            table[column] = np.nan if column in FLOAT_COLUMNS else None
    table = output.events_strings(table[columns].copy(deep=False), keyed)
    for column in columns:
        if column in FLOAT_COLUMNS:
            table[column] = table[column].astype(float)
        elif column != "timestamp":
            table[column] = table[column].astype(object).where(table[column].notna(), None)
    issues = np.full(len(table), "", dtype=object)
    for at, column, issue in zip(part.issues.rows, part.issues.columns, part.issues.issues,
                                 strict=True):  # fmt: skip
        issues[at] = issues[at] + f"{column}:{issue};"
    return table.assign(**{ROW: rows, "_reason": part.verdicts.reason.astype(np.int32),
                           "_column": part.verdicts.column, "_erased": part.erased,
                           "_signature": signature, "_issues": issues})  # fmt: skip


def _keyed_columns(events) -> tuple[str, ...]:
    """``output.keyed_id_columns`` over every partition (``event_id``: does any row embed?)."""
    from pyspark.sql import types as T

    columns = set(normalize_column_names(list(events.columns)))
    keyed = ("session_id",) if "session_id" in columns else ()

    def embeds(batches):
        for batch in batches:
            batch.columns = normalize_column_names(list(batch.columns))
            found = privacy.embeds_user_ids(batch["event_id"].astype("str"),
                                            batch["user_id"].astype("str"))  # fmt: skip
            yield pd.DataFrame({"embeds": [bool(found)]})

    schema = T.StructType([T.StructField("embeds", T.BooleanType())])
    if any(row.embeds for row in events.mapInPandas(embeds, schema).collect()):
        keyed += ("event_id",)
    return keyed


def _refuse_unsupported(events, settings: CurationSettings) -> None:
    columns = set(normalize_column_names(list(events.columns)))
    if "event_id" not in columns:
        raise NotImplementedError(
            "spark engine: events without event_id (ids derived from content) need the pandas "
            "engine"
        )
    if settings.drop_content_duplicates:
        raise NotImplementedError("spark engine: drop_content_duplicates needs the pandas engine")
    if settings.pseudonym_key is None:
        raise ValueError("spark engine: settings.pseudonym_key is required (one key for all)")


def curate_events(
    events,
    settings: CurationSettings,
    known_users: pd.Series | None = None,
    known_items: pd.Series | None = None,
    merges: pd.DataFrame | None = None,
    source_file: str = "events",
) -> SparkCuration:
    """Curate raw events held in a Spark DataFrame.

    Parameters
    ----------
    events : pyspark.sql.DataFrame of shape (n_events, n_columns + 1)
        Raw events as a source delivers them, with ``_row`` (:func:`with_row_numbers`).
    settings : CurationSettings
        As for the pandas engine; ``pseudonym_key`` is required.
    known_users, known_items, merges
        From :func:`dimension_ids` (None: no users or items table).
    source_file : str
        Named in quarantine records.

    Returns
    -------
    SparkCuration

    Raises
    ------
    ReconciliationError
        When the counts do not add up.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    _refuse_unsupported(events, settings)
    as_of = settings.as_of or datetime.now(UTC).isoformat()
    settings = replace(settings, as_of=as_of)  # one clock for every partition
    merges = dedup.empty_merges() if merges is None else merges
    keyed = _keyed_columns(events.drop(ROW))
    columns = output_columns([c for c in events.columns if c != ROW], settings)
    key = settings.pseudonym_key

    def triage(batches):
        for batch in batches:
            if len(batch):
                yield triage_batch(batch, columns, settings, key, keyed, known_users,
                                   known_items, merges)  # fmt: skip

    typed = events.mapInPandas(triage, _spark_schema(columns))
    by_id = Window.partitionBy("event_id")
    candidate = ~F.col("_erased") & F.col("event_id").isNotNull()
    typed = (
        typed.withColumn("_n_contents", F.when(candidate, F.size(
            F.collect_set(F.when(candidate, F.col("_signature"))).over(by_id))))
        .withColumn("_first", F.when(candidate, F.min(F.when(candidate, F.col(ROW))).over(by_id)))
    )  # fmt: skip
    conflict = candidate & (F.col("_n_contents") > 1)
    newly = (F.col("_reason") == 0) & conflict
    typed = typed.withColumn(
        "_column", F.when(newly, "event_id").otherwise(F.col("_column"))
    ).withColumn("_reason", F.when(newly, CONFLICT).otherwise(F.col("_reason")))
    typed = typed.withColumn(
        "_duplicate", candidate & ~conflict & (F.col(ROW) > F.col("_first"))
        & (F.col("_reason") == 0),
    ).cache()  # fmt: skip
    kept = (F.col("_reason") == 0) & ~F.col("_duplicate") & ~F.col("_erased")
    counts = _counts(typed)
    reconcile(counts, "events")
    curated = typed.filter(kept).select(*columns, ROW)
    rejected = typed.filter((F.col("_reason") > 0) & ~F.col("_erased")).select(
        ROW, "_reason", "_column"
    )
    quarantine = _quarantine(events, rejected, key, merges, keyed, source_file)
    fates = typed.select(*columns, ROW, "_reason", "_column", "_duplicate", "_erased", "_issues")
    return SparkCuration(curated, quarantine, counts, fates)


def _counts(typed) -> dict[str, int]:
    """The pandas engine's ``TablePart.counts`` for events, from one aggregation."""
    from pyspark.sql import functions as F

    rejected = (F.col("_reason") > 0) & ~F.col("_erased")
    total = typed.agg(
        F.count(F.lit(1)).alias("in"),
        F.sum((~rejected & ~F.col("_duplicate") & ~F.col("_erased")).cast("long")).alias("cur"),
        F.sum(rejected.cast("long")).alias("quar"),
        F.sum((F.col("_duplicate") & ~F.col("_erased")).cast("long")).alias("dup"),
        F.sum(F.col("_erased").cast("long")).alias("erased"),
    ).first()
    counts = {"events_in": total["in"], "events_curated": total["cur"] or 0,
              "events_quarantined": total["quar"] or 0, "events_duplicates": total["dup"] or 0,
              "events_erased": total["erased"] or 0}  # fmt: skip
    reasons = typed.filter(rejected).groupBy("_reason").count().collect()
    counts |= {f"events_reason_{REASONS[row['_reason'] - 1]}": row["count"] for row in reasons}
    return counts


def _quarantine(events, rejected, key: bytes, merges, keyed, source_file: str):
    """Quarantine records of the rejected rows, made by ``quality.quarantine_records``."""
    from pyspark.sql import types as T

    sanitize = output.sanitizer(SPECS["events"], key, merges, keyed)
    raw_columns = [c for c in events.columns if c != ROW]

    def records(batches):
        for batch in batches:
            if not len(batch):
                continue
            raw = batch[raw_columns].copy()
            raw.columns = normalize_column_names(raw_columns)
            raw.attrs["source_file"] = source_file
            verdicts = Verdicts(
                batch["_reason"].to_numpy(np.int8), batch["_column"].to_numpy(object)
            )
            found = quarantine_records(raw, verdicts, "events", sanitize)
            found["row"] = batch[ROW].to_numpy()[found["row"].to_numpy()]
            yield found.astype({"user_id": object})

    schema = T.StructType(
        [
            T.StructField(c, T.LongType() if c == "row" else T.StringType())
            for c in QUARANTINE_COLUMNS
        ]
    )
    return events.join(rejected, ROW).mapInPandas(records, schema)


def spark_input(events: pd.DataFrame) -> pd.DataFrame:
    """Raw events Spark can take as they are: time-zone-aware times as ISO text (parsed back
    by curation, as from a CSV file), other columns unchanged."""
    aware = [c for c in events.columns if isinstance(events[c].dtype, pd.DatetimeTZDtype)]
    return events.assign(**{column: events[column].astype("str") for column in aware})


def events_part(fates: pd.DataFrame, raw: pd.DataFrame, columns: list[str]) -> TablePart:
    """The pandas engine's ``TablePart`` of events from every row's fate on Spark.

    Parameters
    ----------
    fates : DataFrame of shape (n_events, len(columns) + 6)
        ``SparkCuration.fates`` on the driver, in source order.
    raw : DataFrame of shape (n_events, n_raw_columns)
        The prepared raw events (``triage.prepare``).
    columns : list of str
    """
    issues = FieldIssues()
    pairs = fates["_issues"].fillna("").str.split(";").explode()
    pairs = pairs[pairs != ""]
    for pair, rows in pairs.groupby(pairs, sort=False).groups.items():
        column, issue = str(pair).split(":", 1)
        mask = np.zeros(len(fates), dtype=bool)
        mask[np.asarray(rows)] = True
        issues.add(mask, column, issue)
    verdicts = Verdicts(fates["_reason"].to_numpy(np.int8), fates["_column"].to_numpy(object))
    typed = fates[columns].reset_index(drop=True)
    duplicate, erased = fates["_duplicate"].to_numpy(bool), fates["_erased"].to_numpy(bool)
    return TablePart("events", raw, typed, verdicts, issues, duplicate, erased)


def curate(raw: dict[str, pd.DataFrame], settings: CurationSettings, spark) -> Curation:
    """The pandas engine's ``curate`` with the events curated on Spark.

    Users, items and consent (small) are curated on the driver as pandas does; events run
    through :func:`curate_events`; their fates come back to be assembled by the pandas
    engine's ``assemble``, so tables, quarantine, issues and counts take the same form.

    Parameters
    ----------
    raw : dict of str to DataFrame
        As for ``workbench.data.curate.curate``.
    settings : CurationSettings
        ``pseudonym_key`` required.
    spark : SparkSession

    Returns
    -------
    Curation
    """
    settings = replace(settings, as_of=settings.as_of or datetime.now(UTC).isoformat())
    tables = {name: prepare(frame, name) for name, frame in raw.items() if name in SPECS}
    parts = dimension_parts(tables, settings)
    known_users, known_items = known_ids(parts)
    source_file = str(tables["events"].attrs.get("source_file", "events"))
    frame = with_row_numbers(spark.createDataFrame(spark_input(tables["events"])))
    result = curate_events(frame, settings, known_users, known_items, parts.merges, source_file)
    fates = result.fates.orderBy(ROW).toPandas()
    # one array per column: Arrow batches arrive as chunks, which parquet lays out differently
    fates = pd.DataFrame({column: fates[column].to_numpy() for column in fates.columns})
    fates["timestamp"] = pd.to_datetime(fates["timestamp"], utc=True)
    columns = [c for c in fates.columns if not c.startswith("_")]
    parts.events = events_part(fates, tables["events"], columns)
    parts.keyed = _keyed_columns(frame.drop(ROW))
    for part in (parts.users, parts.items, parts.consent):
        if part is not None and "user_id" in part.typed:
            erase_and_pseudonymize(part, parts.merges, settings, settings.pseudonym_key)
    return assemble(parts, settings, settings.pseudonym_key)
