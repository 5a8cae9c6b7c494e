"""Ingestion: a source's raw tables through curation into the curated layer.

``ingest`` is what the ``10_ingest`` notebook calls: load the source, curate it (quarantine,
standardization, deduplication, consent, pseudonyms) and fold it into the curated data set,
atomically, with a manifest whose digest versions the data set. A full run replaces the data
set (erasures are still honoured); an incremental run appends what is new after the source's
watermark, accepts late events inside a window, and writes nothing when nothing is new.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from workbench.data import incremental
from workbench.data.curate import Curation, CurationSettings
from workbench.data.sources import get_source, load_source

log = logging.getLogger(__name__)


@dataclass
class IngestResult:
    """What ingestion did: the curation, the manifest, where it lives, what it appended."""

    curation: Curation
    manifest: dict
    folder: Path
    appended: int = 0
    written: bool = True

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        return self.curation.tables

    @property
    def digest(self) -> str:
        return self.manifest["digest"]


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


def ingest(
    source: str,
    curated_dir: Path,
    raw_dir: Path,
    mirror: Path | None = None,
    options: dict | None = None,
    settings: CurationSettings | None = None,
    seed: int | None = None,
    incremental_run: bool = False,
    late_window: pd.Timedelta = incremental.DEFAULT_LATE_WINDOW,
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
        Keyword options of the source (sizes for ``synthetic``, paths for ``files``).
    settings : CurationSettings, optional
        ``default_settings(source)`` when omitted. Pass ``default_settings(source,
        pseudonym_key=...)`` so that pseudonyms are stable across runs and the source's time
        zone and curation rules still apply.
    seed : int, optional
        Seed of a generated source, unless ``options`` names one.
    incremental_run : bool
        Append to the existing data set by watermark instead of replacing it.
    late_window : Timedelta
        How far before the watermark an incremental event is still accepted.
    """
    options = dict(options or {})
    if source == "synthetic" and seed is not None:
        options.setdefault("seed", seed)
    raw = load_source(source, raw_dir, mirror, **options)
    log.info("loaded %s: %s", source, {name: len(frame) for name, frame in raw.items()})
    update = incremental.update(
        curated_dir,
        raw,
        settings or default_settings(source),
        source,
        late_window=late_window,
        replace_existing=not incremental_run,
    )
    log.info(
        "curated %s into %s: %d events appended, digest %s",
        source,
        curated_dir,
        update.appended,
        update.manifest["digest"][:12],
    )
    return IngestResult(
        update.curation, update.manifest, Path(curated_dir), update.appended, update.written
    )
