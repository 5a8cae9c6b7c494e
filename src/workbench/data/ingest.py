"""Ingestion: a source's raw tables through curation into the curated layer.

``ingest`` is what the ``10_ingest`` notebook calls: load the source, curate, and write the
curated tables with the quarantine beside them, atomically, with a manifest whose digest
versions the data set.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from workbench.data import store
from workbench.data.curate import Curation, CurationSettings, curate
from workbench.data.sources import load_source

log = logging.getLogger(__name__)


@dataclass
class IngestResult:
    """What ingestion wrote: the curation, the manifest and where it lives."""

    curation: Curation
    manifest: dict
    folder: Path

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        return self.curation.tables

    @property
    def digest(self) -> str:
        return self.manifest["digest"]


def ingest(
    source: str,
    curated_dir: Path,
    raw_dir: Path,
    mirror: Path | None = None,
    options: dict | None = None,
    settings: CurationSettings | None = None,
    seed: int | None = None,
) -> IngestResult:
    """Load ``source``, curate it and write it to ``curated_dir``.

    Parameters
    ----------
    source : str
        A source name (see ``workbench.data.sources``).
    curated_dir : Path
        ``data/curated/<data set>``; replaced atomically.
    raw_dir : Path
        ``data/raw``, where downloads land.
    mirror : Path, optional
        A folder laid out like the publishers' files, read in place.
    options : dict, optional
        Keyword options of the source (sizes for ``synthetic``, paths for ``files``).
    settings : CurationSettings, optional
    seed : int, optional
        Seed of a generated source, unless ``options`` names one.
    """
    options = dict(options or {})
    if source == "synthetic" and seed is not None:
        options.setdefault("seed", seed)
    raw = load_source(source, raw_dir, mirror, **options)
    log.info("loaded %s: %s", source, {name: len(frame) for name, frame in raw.items()})
    curation = curate(raw, settings)
    tables = dict(curation.tables)
    tables["quarantine"] = curation.quarantine
    manifest = store.write_tables(
        curated_dir, tables, extra={"source": source, "counts": curation.counts}
    )
    log.info("curated %s into %s (digest %s)", source, curated_dir, manifest["digest"][:12])
    return IngestResult(curation=curation, manifest=manifest, folder=Path(curated_dir))
