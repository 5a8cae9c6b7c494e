"""Add one derived table beside the curated tables of a data set, atomically.

``store.write_tables`` replaces a data set's whole folder, which is right for ingestion but
wrong for steps that add tables (features, segment membership, personas) next to it. This
writes ``<folder>/<table>.parquet`` through a temporary file and ``os.replace``, so readers see
either the old file or the new one, never a partial one. (Candidate to move into
``workbench.data.store``.)
"""

from __future__ import annotations

import logging
import os
import uuid
from pathlib import Path

import pandas as pd

log = logging.getLogger(__name__)


def write_table(folder: Path, table: str, frame: pd.DataFrame) -> Path:
    """Atomically write ``frame`` as ``<folder>/<table>.parquet``.

    Parameters
    ----------
    folder : Path
        An existing curated data set folder.
    table : str
    frame : DataFrame
        Written without its index: reset a meaningful index (``user_id``) first.

    Returns
    -------
    Path
        The written file.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} does not exist: curate the data set first")
    target = folder / f"{table}.parquet"
    staging = folder / f".{table}.{uuid.uuid4().hex}.tmp"
    try:
        frame.to_parquet(staging, index=False)
        os.replace(staging, target)
    finally:
        staging.unlink(missing_ok=True)
    log.info("wrote %s: %d rows", target, len(frame))
    return target
