"""The curated layer: one parquet file per table with a manifest of counts and digests.

A write is a transaction: the new version is staged in a folder beside the data set's, checked
(every file against the manifest, then the caller's checks: reconciliation, value ranges, a
non-empty result, the report), and only then swapped in with one atomic exchange of the two
folders. Any failure before the swap leaves the previous version byte-identical. Previous
versions are kept under ``data/curated/.history/<data set>/<version>`` (``KEEP_VERSIONS``);
``versions`` lists them and ``rollback`` restores one. The manifest's digest over all tables
is the data set's identity recorded in MLflow; ``version`` numbers the writes.
"""

from __future__ import annotations

import ctypes
import hashlib
import io
import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from workbench.data.download import sha256_of
from workbench.data.errors import CurationCheckError

MANIFEST = "manifest.json"
HISTORY = ".history"
KEEP_VERSIONS = 5


def table_digest(frame: pd.DataFrame) -> str:
    """sha256 of a table's parquet encoding: its content, column names and types.

    Parquet is written by pyarrow's C++ encoder, which is fast and deterministic for a given
    pyarrow version (a pyarrow upgrade may change digests, and so the data set's version).
    """
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return hashlib.sha256(buffer.getbuffer()).hexdigest()


def history_folder(folder: Path) -> Path:
    """Where the previous versions of the data set in ``folder`` are kept."""
    folder = Path(folder)
    return folder.parent / HISTORY / folder.name


def _stage(
    staging: Path, folder: Path, tables: dict[str, pd.DataFrame], extra: dict | None
) -> dict:
    """Write ``tables`` and their manifest into ``staging``, a new folder beside ``folder``."""
    staging.mkdir()
    entries = {}
    for name, frame in tables.items():
        path = staging / f"{name}.parquet"
        frame.to_parquet(path, index=False)
        entries[name] = {"rows": len(frame), "digest": sha256_of(path)}
    combined = hashlib.sha256(
        json.dumps({k: v["digest"] for k, v in sorted(entries.items())}).encode()
    ).hexdigest()
    version = 1 + max((v["version"] for v in versions(folder)), default=0)
    manifest = {
        "tables": entries,
        "digest": combined,
        "version": version,
        "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
        **{k: v for k, v in (extra or {}).items() if k not in ("version", "digest", "tables")},
    }
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    return manifest


def verify_staged(staging: Path, manifest: dict) -> None:
    """Raise ``CurationCheckError`` unless every staged file has the rows and digest recorded."""
    for name, entry in manifest["tables"].items():
        path = staging / f"{name}.parquet"
        rows = pq.ParquetFile(path).metadata.num_rows
        if rows != entry["rows"] or sha256_of(path) != entry["digest"]:
            raise CurationCheckError(f"staged table {name!r} does not match its manifest")


def write_tables(
    folder: Path,
    tables: dict[str, pd.DataFrame],
    extra: dict | None = None,
    checks: Iterable[Callable[[Path, dict], None]] = (),
    keep: int = KEEP_VERSIONS,
) -> dict:
    """Write a new version of a data set as a transaction: stage, check, then swap atomically.

    Parameters
    ----------
    folder : Path
        ``data/curated/<data set>``.
    tables : dict of str to DataFrame
    extra : dict, optional
        More facts for the manifest (source, options, reconciliation counts).
    checks : iterable of callable
        ``check(staged_folder, manifest)``, run on the staged version before it is swapped
        in; any exception aborts the write.
    keep : int
        Previous versions kept under ``history_folder(folder)`` (older ones are deleted).

    Returns
    -------
    dict
        The manifest: ``tables`` (rows and digest of each), ``digest``, ``version``,
        ``written_at``.

    Raises
    ------
    Exception
        Whatever a check or a write raised; the data set in ``folder`` (and its history) is
        then byte-identical to what it was, and no staging folder is left behind.
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = folder.parent / f".{folder.name}.{uuid.uuid4().hex}.staging"
    try:
        manifest = _stage(staging, folder, tables, extra)
        verify_staged(staging, manifest)
        for check in checks:
            check(staging, manifest)
        _commit(staging, folder, keep)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths in one system call (Linux ``renameat2``); False when unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    result = renameat2(at_fdcwd, os.fsencode(first), at_fdcwd, os.fsencode(second), rename_exchange)
    return result == 0


def _commit(staging: Path, folder: Path, keep: int) -> None:
    """Make ``staging`` the data set's folder; the old one joins the history."""
    if not folder.exists():
        staging.rename(folder)
        return
    previous = read_manifest(folder).get("version", 0) if (folder / MANIFEST).is_file() else 0
    history = history_folder(folder)
    history.mkdir(parents=True, exist_ok=True)
    if _exchange(staging, folder):
        retired = staging  # the old version now sits at the staging path
    else:
        retired = folder.parent / f".{folder.name}.{uuid.uuid4().hex}.old"
        folder.rename(retired)
        staging.rename(folder)
    target = history / f"{previous:04d}"
    if target.exists():
        target = history / f"{previous:04d}-{uuid.uuid4().hex[:6]}"
    retired.rename(target)
    _prune(history, keep)


def _prune(history: Path, keep: int) -> None:
    old = sorted(p for p in history.iterdir() if p.is_dir())
    for path in old[: max(0, len(old) - keep)]:
        shutil.rmtree(path, ignore_errors=True)


def versions(folder: Path) -> list[dict]:
    """Every kept version of a data set, oldest first: the previous ones and the current one.

    Returns
    -------
    list of dict
        ``version``, ``digest``, ``written_at``, ``rows`` (per table), ``current`` and
        ``path`` of each.
    """
    folder = Path(folder)
    found = []
    history = history_folder(folder)
    candidates = sorted(p for p in history.iterdir() if p.is_dir()) if history.is_dir() else []
    for path in [*candidates, folder]:
        if not (path / MANIFEST).is_file():
            continue
        manifest = read_manifest(path)
        found.append(
            {
                "version": int(manifest.get("version", 0)),
                "digest": manifest["digest"],
                "written_at": manifest.get("written_at", ""),
                "rows": {name: entry["rows"] for name, entry in manifest["tables"].items()},
                "current": path == folder,
                "path": path,
            }
        )
    return found


def find_version(folder: Path, version: str | int | None = None) -> dict:
    """A kept version by number or digest prefix; the one before the current when None."""
    kept = versions(folder)
    previous = [v for v in kept if not v["current"]]
    if version is None:
        if not previous:
            raise LookupError(f"{Path(folder).name}: no previous version is kept")
        return max(previous, key=lambda v: v["version"])
    text = str(version)
    for entry in kept:
        if text.isdigit() and int(text) == entry["version"]:
            return entry
        if len(text) >= 6 and entry["digest"].startswith(text):
            return entry
    numbers = ", ".join(f"{v['version']} ({v['digest'][:12]})" for v in kept)
    raise LookupError(f"{Path(folder).name}: no version {text!r}; kept: {numbers}")


def rollback(folder: Path, version: str | int | None = None, keep: int = KEEP_VERSIONS) -> dict:
    """Make a kept version current again (the current one joins the history).

    The restored tables are byte-identical to the version's; its manifest keeps its digest and
    gains ``restored_from`` and a new ``version`` number.
    """
    folder = Path(folder)
    entry = find_version(folder, version)
    if entry["current"]:
        return read_manifest(folder)
    staging = folder.parent / f".{folder.name}.{uuid.uuid4().hex}.staging"
    try:
        shutil.copytree(entry["path"], staging)
        manifest = read_manifest(staging)
        manifest["restored_from"] = entry["version"]
        manifest["version"] = 1 + max(v["version"] for v in versions(folder))
        manifest["restored_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str) + "\n")
        verify_staged(staging, manifest)
        _commit(staging, folder, keep)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


def rewrite_in_place(path: Path, tables: dict[str, pd.DataFrame], manifest: dict) -> dict:
    """Replace the tables of one kept version (erasure), atomically, keeping its number.

    Returns the new manifest (new digests).
    """
    path = Path(path)
    staging = path.parent / f".{path.name}.{uuid.uuid4().hex}.staging"
    staging.mkdir()
    try:
        entries = {}
        for name, frame in tables.items():
            target = staging / f"{name}.parquet"
            frame.to_parquet(target, index=False)
            entries[name] = {"rows": len(frame), "digest": sha256_of(target)}
        combined = hashlib.sha256(
            json.dumps({k: v["digest"] for k, v in sorted(entries.items())}).encode()
        ).hexdigest()
        manifest = {**manifest, "tables": entries, "digest": combined}
        manifest.pop("derived", None)
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str) + "\n")
        retired = path.parent / f".{path.name}.{uuid.uuid4().hex}.old"
        if not _exchange(staging, path):
            path.rename(retired)
            staging.rename(path)
        else:
            staging.rename(retired)
        shutil.rmtree(retired, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


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
