"""The curated layer: one parquet file per table with a manifest of counts and digests.

Writes are atomic: tables are written to a staging folder that replaces the data set's folder
only when every table is written, so a failed run leaves the previous curated data intact.
The manifest's digest over all tables is the data set's version recorded in MLflow.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from workbench.data.download import sha256_of

MANIFEST = "manifest.json"


def table_digest(frame: pd.DataFrame) -> str:
    """sha256 of a table's parquet encoding: its content, column names and types.

    Parquet is written by pyarrow's C++ encoder, which is fast and deterministic for a given
    pyarrow version (a pyarrow upgrade may change digests, and so the data set's version).
    """
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return hashlib.sha256(buffer.getbuffer()).hexdigest()


def write_tables(folder: Path, tables: dict[str, pd.DataFrame], extra: dict | None = None) -> dict:
    """Atomically replace ``folder`` with one parquet file per table and a manifest.

    Parameters
    ----------
    folder : Path
        ``data/curated/<data set>``.
    tables : dict of str to DataFrame
    extra : dict, optional
        More facts for the manifest (source, options, reconciliation counts).

    Returns
    -------
    dict
        The manifest: ``tables`` (rows and digest of each), ``digest``, ``written_at``.
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = folder.parent / f".{folder.name}.{uuid.uuid4().hex}.staging"
    staging.mkdir()
    try:
        entries = {}
        for name, frame in tables.items():
            path = staging / f"{name}.parquet"
            frame.to_parquet(path, index=False)
            entries[name] = {"rows": len(frame), "digest": sha256_of(path)}
        combined = hashlib.sha256(
            json.dumps({k: v["digest"] for k, v in sorted(entries.items())}).encode()
        ).hexdigest()
        manifest = {
            "tables": entries,
            "digest": combined,
            "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
            **(extra or {}),
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str) + "\n")
        _swap(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


def _swap(staging: Path, folder: Path) -> None:
    """Replace ``folder`` by ``staging`` with renames only."""
    retired = folder.parent / f".{folder.name}.{uuid.uuid4().hex}.old"
    if folder.exists():
        folder.rename(retired)
    staging.rename(folder)
    shutil.rmtree(retired, ignore_errors=True)


def read_table(folder: Path, table: str, columns: list[str] | None = None) -> pd.DataFrame:
    """Read one curated table; a clear error when the data set or table is missing."""
    path = Path(folder) / f"{table}.parquet"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} does not exist: run the ingest notebook for data set {Path(folder).name!r}"
        )
    return pq.read_table(path, columns=columns).to_pandas()


def has_table(folder: Path, table: str) -> bool:
    """Whether the curated data set in ``folder`` has ``table``."""
    return (Path(folder) / f"{table}.parquet").is_file()


def read_manifest(folder: Path) -> dict:
    """The manifest of a curated data set."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: the data set was never curated")
    return json.loads(path.read_text())


def write_table(folder: Path, table: str, frame: pd.DataFrame) -> Path:
    """Atomically add or replace one derived table beside the curated ones.

    ``write_tables`` replaces a data set's whole folder, which is right for ingestion but wrong
    for steps that add tables next to it (features, segment membership, personas). This writes
    ``<folder>/<table>.parquet`` through a temporary file and ``os.replace``, so readers see the
    old file or the new one, never a partial one, and lists the table under ``derived`` in the
    manifest (the data set's digest, which versions the ingested data, is unchanged).

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
    if not (folder / MANIFEST).is_file():
        raise FileNotFoundError(
            f"{folder} is not a curated data set: run the ingest notebook first"
        )
    target = folder / f"{table}.parquet"
    staging = folder / f".{table}.{uuid.uuid4().hex}.tmp"
    try:
        frame.to_parquet(staging, index=False)
        os.replace(staging, target)
    finally:
        staging.unlink(missing_ok=True)
    manifest = read_manifest(folder)
    manifest.setdefault("derived", {})[table] = {"rows": len(frame), "digest": sha256_of(target)}
    manifest_staging = folder / f".{MANIFEST}.{uuid.uuid4().hex}.tmp"
    manifest_staging.write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    os.replace(manifest_staging, folder / MANIFEST)
    return target
