"""Ingestion: a source's raw tables through curation into the curated layer.

``ingest`` is what the ``10_ingest`` notebook calls: load the source, curate it (quarantine,
standardization, deduplication, consent, pseudonyms) and fold it into the curated data set,
as a transaction: the new version is staged, checked (counts, values, a non-empty result, the
report) and only then swapped in; any failure raises ``IngestFailed`` and leaves the previous
version byte-identical. A full run (the default) replaces the data set (erasures are still
honoured); an incremental run (``incremental_run=True``) appends what is new after the feed's
watermark, accepts late events inside a window, and writes nothing when nothing is new.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import pandas as pd

from workbench.data import checks, incremental, store
from workbench.data.curate import Curation, CurationSettings, curate
from workbench.data.errors import IngestFailed
from workbench.data.linkage import LinkageRules
from workbench.data.sources import get_source, load_source
from workbench.data.timestamps import check_timezone

CURATION_OPTIONS = (
    "timezone",
    "timestamp_format",
    "epoch_unit",
    "valid_from",
    "dedup",
    "ranges",
    "rating_scale",
    "linkage",
)
"""Keys of ``data.options`` that configure curation rather than the source's loader."""
FEED_OPTIONS = ("feed", "late_window")
"""Keys of ``data.options`` that configure incremental runs (``incremental.Feed``)."""
DEDUP_KEYS = {"content", "keys", "tolerance_seconds"}

log = logging.getLogger(__name__)


@dataclass
class IngestResult:
    """What ingestion did: the curation, the manifest, where it lives, what it appended."""

    curation: Curation
    manifest: dict
    folder: Path
    appended: int = 0
    written: bool = True
    figures: dict = field(default_factory=dict)
    source: str = ""

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        return self.curation.tables

    @property
    def digest(self) -> str:
        return self.manifest["digest"]

    def published_figures(self) -> pd.DataFrame | None:
        """The publisher's own figures beside this curation's, where the source states them.

        None for a source whose publisher states no figures (``Source.published``).
        """
        published = get_source(self.source).published if self.source else None
        return published(self.curation) if published else None

    def metrics(self) -> dict[str, float]:
        """What the run read, what it did, and what the data set now holds.

        The curation counts (``events_in``, ``events_curated``... of the rows this run read),
        ``rows_input_<table>`` (rows read from the source this run), ``rows_dataset_<table>``
        (rows the data set holds after the run: after an incremental run, history included),
        ``events_appended``, and ``n_users`` and ``n_items`` with events in the data set.
        """
        counts = self.curation.counts
        inputs = {
            f"rows_input_{table}": counts[f"{table}_in"]
            for table in ("events", "users", "items", "consent")
            if f"{table}_in" in counts
        }
        held = {
            f"rows_dataset_{table}": entry["rows"]
            for table, entry in self.manifest.get("tables", {}).items()
        }
        events = store.read_table(self.folder, "events", columns=["user_id", "item_id"])
        return {
            **counts,
            **inputs,
            **held,
            "events_appended": self.appended,
            "n_users": events["user_id"].nunique(),
            "n_items": events["item_id"].nunique(),
        }


def default_settings(source: str, source_timezone: str = "", **overrides) -> CurationSettings:
    """Curation settings for ``source``, as its catalogue entry declares them.

    Parameters
    ----------
    source : str
        A catalogued source name (``workbench.data.sources.CATALOGUE``).
    source_timezone : str
        IANA zone of naive timestamps; the source's own (``Source.timezone``) when empty.
    **overrides
        Other ``CurationSettings`` fields (``pseudonym_key``, ``as_of``, ...).

    Returns
    -------
    CurationSettings
        With the source's time zone and curation rules (``source_rules``).
    """
    entry = get_source(source)
    settings = CurationSettings(
        source_timezone=source_timezone or entry.timezone, source_rules=entry.curation
    )
    return replace(settings, **overrides)


def split_options(options: dict | None) -> tuple[dict, dict, incremental.Feed]:
    """Split ``data.options`` into the loader's options, curation settings and the feed.

    Parameters
    ----------
    options : dict, optional
        As in a configuration: the source's options (paths, ``delimiter``, ``encoding``...),
        ``CURATION_OPTIONS``: ``timezone`` (IANA), ``timestamp_format`` (strptime),
        ``epoch_unit`` (s, ms, us, ns), ``valid_from`` (earliest plausible date), ``dedup``
        (``{content: true, keys: [...], tolerance_seconds: 1}``), ``ranges``
        (``{column: [low, high]}``), ``rating_scale`` (``[low, high]``), ``linkage``
        (``LinkageRules`` fields); and ``FEED_OPTIONS`` for incremental runs: ``feed`` (the
        watermark's name) and ``late_window`` (a duration with its unit: ``3 days``, ``36h``).

    Returns
    -------
    loader_options, overrides, feed : dict, dict, incremental.Feed
        The loader's keyword options, ``CurationSettings`` fields, and the feed.

    Raises
    ------
    ValueError
        Naming the option whose value is invalid.
    """
    options = dict(options or {})
    loader = {k: v for k, v in options.items() if k not in (*CURATION_OPTIONS, *FEED_OPTIONS)}
    given = {k: v for k, v in options.items() if k in CURATION_OPTIONS}
    overrides: dict = {}
    if "timezone" in given:
        overrides["source_timezone"] = check_timezone(str(given["timezone"]))
    if "timestamp_format" in given:
        overrides["timestamp_format"] = _format(given["timestamp_format"])
    if "epoch_unit" in given:
        if given["epoch_unit"] not in ("s", "ms", "us", "ns"):
            raise ValueError(f"epoch_unit: {given['epoch_unit']!r} is not one of s, ms, us, ns")
        overrides["epoch_unit"] = given["epoch_unit"]
    if "valid_from" in given:
        overrides["valid_from"] = str(pd.Timestamp(str(given["valid_from"])).date())
    if "dedup" in given:
        overrides |= _dedup(given["dedup"])
    if "ranges" in given:
        overrides["ranges"] = {str(k): _pair(f"ranges.{k}", v) for k, v in given["ranges"].items()}
    if "rating_scale" in given:
        overrides["rating_scale"] = _pair("rating_scale", given["rating_scale"])
    if "linkage" in given:
        known = {f.name for f in fields(LinkageRules)}
        unknown = set(given["linkage"]) - known
        if unknown:
            raise ValueError(f"linkage: unknown key(s) {sorted(unknown)}; known: {sorted(known)}")
        overrides["linkage"] = LinkageRules(**given["linkage"])
    return loader, overrides, _feed(options)


def _feed(options: dict) -> incremental.Feed:
    """The ``feed`` and ``late_window`` options, checked."""
    name = options.get("feed", "")
    if not isinstance(name, str) or (name and not name.strip()):
        raise ValueError(f"feed: expected a name such as 'web-orders', got {name!r}")
    if "late_window" not in options:
        return incremental.Feed(name.strip())
    value = options["late_window"]
    hint = "expected a duration with its unit, such as '3 days', '36h' or '90min'"
    if not isinstance(value, str) or not any(c.isalpha() for c in value):
        raise ValueError(f"late_window: {hint}, got {value!r}")
    try:
        window = pd.Timedelta(value)
    except ValueError:
        raise ValueError(f"late_window: {hint}, got {value!r}") from None
    if window < pd.Timedelta(0):
        raise ValueError(f"late_window: {value!r} is negative")
    return incremental.Feed(name.strip(), window)


def _format(value) -> str:
    text = str(value)
    if "%" not in text:
        raise ValueError(f"timestamp_format: {text!r} is not a strptime format (e.g. '%d/%m/%Y')")
    return text


def _pair(name: str, value) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name}: expected [low, high], got {value!r}") from error
    if low > high:
        raise ValueError(f"{name}: low {low} is above high {high}")
    return low, high


def _dedup(value) -> dict:
    if not isinstance(value, dict) or set(value) - DEDUP_KEYS:
        raise ValueError(f"dedup: expected a mapping with keys {sorted(DEDUP_KEYS)}")
    rule = {"drop_content_duplicates": bool(value.get("content", False))}
    if "keys" in value:
        rule["dedup_keys"] = tuple(str(k) for k in value["keys"])
    if "tolerance_seconds" in value:
        rule["dedup_tolerance_seconds"] = float(value["tolerance_seconds"])
    return rule


def _state(folder: Path) -> str:
    """What the data set in ``folder`` is now, for the message of a failed run."""
    try:
        manifest = store.read_manifest(folder)
    except FileNotFoundError:
        return f"nothing was written: there is still no data set in {folder}"
    return (
        f"nothing was written: {folder.name} is still version {manifest.get('version', 0)} "
        f"(digest {manifest['digest'][:12]}), byte for byte"
    )


def ingest(
    source: str,
    curated_dir: Path,
    raw_dir: Path,
    mirror: Path | None = None,
    options: dict | None = None,
    settings: CurationSettings | None = None,
    seed: int | None = None,
    incremental_run: bool = False,
    curator: Callable[[dict, CurationSettings], Curation] = curate,
) -> IngestResult:
    """Load ``source``, curate it and write it to ``curated_dir``.

    Parameters
    ----------
    source : str
        A source name (see ``workbench.data.sources``).
    curated_dir : Path
        ``data/curated/<data set>``; replaced or appended to atomically.
    raw_dir : Path
        ``data/raw``, where downloads land.
    mirror : Path, optional
        A folder laid out like the publishers' files, read in place.
    options : dict, optional
        Keyword options of the source (sizes for ``synthetic``, paths for ``files``),
        curation options, which override ``settings``, and the feed's ``feed`` and
        ``late_window`` (``split_options``).
    settings : CurationSettings, optional
        ``default_settings(source)`` when omitted. Pass ``default_settings(source,
        pseudonym_key=...)`` so that pseudonyms are stable across runs and the source's time
        zone and curation rules still apply.
    seed : int, optional
        Seed of a generated source, unless ``options`` names one.
    incremental_run : bool
        Append to the existing data set by the feed's watermark; by default (False) the
        data set is replaced.
    curator : callable
        ``curator(raw, settings) -> Curation``: the pandas engine's ``curate`` by default;
        ``workbench.engines.Engine.ingest`` passes Spark's.

    Returns
    -------
    IngestResult
        With ``figures``: the data-quality report drawn from the version written.

    Raises
    ------
    IngestFailed
        Whatever went wrong (an unusable file, every row rejected, a failed check), with the
        original error as its cause; the message says the previous version is unchanged.
    """
    folder = Path(curated_dir)
    try:
        options, overrides, feed = split_options(options)
        settings = replace(settings or default_settings(source), **overrides)
        if source == "synthetic" and seed is not None:
            options.setdefault("seed", seed)
        raw = load_source(source, raw_dir, mirror, **options)
        log.info("loaded %s: %s", source, {name: len(frame) for name, frame in raw.items()})
        figures: dict = {}
        update = incremental.update(
            folder,
            raw,
            settings,
            source,
            feed=feed,
            replace_existing=not incremental_run,
            checks=checks.staged_checks(settings.window(), figures),
            curator=curator,
        )
    except Exception as error:
        raise IngestFailed(f"{type(error).__name__}: {error}\n{_state(folder)}") from error
    log.info(
        "curated %s into %s: %d events appended, digest %s",
        source,
        curated_dir,
        update.appended,
        update.manifest["digest"][:12],
    )
    return IngestResult(
        update.curation, update.manifest, folder, update.appended, update.written, figures, source
    )
