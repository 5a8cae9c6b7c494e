"""Scans for raw identifiers and e-mail addresses in what the pipeline wrote.

Used by tests (and by anyone auditing a run) on the curated layer, MLflow artifact folders and
MLflow runs' params, tags and metric names. Parquet files are checked cell by cell (string
cells equal to a raw identifier, or holding an e-mail address); text files token by token.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from workbench.data.privacy import EMAIL_PATTERN

TEXT_SUFFIXES = {".json", ".yaml", ".yml", ".txt", ".csv", ".md", ".html", ".log", ".tsv", ""}
TOKEN = re.compile(r"[\w@.+-]+")
FINDING_COLUMNS = ("path", "location", "kind", "match")


def _findings(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(FINDING_COLUMNS))


def _scan_values(values: Iterable[str], identifiers: set[str], path: str, location: str):
    """Findings among string values: exact identifiers and e-mail addresses."""
    rows = []
    email = re.compile(EMAIL_PATTERN)
    for value in values:
        if value in identifiers:
            rows.append((path, location, "identifier", value))
        elif "@" in value and email.search(value):
            rows.append((path, location, "email", email.search(value).group(0)))
    return rows


def scan_parquet(path: Path, identifiers: set[str]) -> list[tuple]:
    """Findings in the string columns (and column names) of one parquet file."""
    frame = pq.read_table(path).to_pandas().reset_index()
    rows = _scan_values(map(str, frame.columns), identifiers, str(path), "<columns>")
    for column in frame.columns:
        if pd.api.types.is_string_dtype(frame[column].dtype) or frame[column].dtype == object:
            distinct = frame[column].dropna().astype(str).unique()
            rows += _scan_values(distinct, identifiers, str(path), str(column))
    return rows


def scan_text(path: Path, identifiers: set[str]) -> list[tuple]:
    """Findings among the tokens of one text file (binary files are skipped)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return []
    rows = _scan_values(set(TOKEN.findall(text)), identifiers, str(path), "<text>")
    email = re.compile(EMAIL_PATTERN)
    seen = {row[3] for row in rows}
    rows += [(str(path), "<text>", "email", m) for m in set(email.findall(text)) if m not in seen]
    return rows


def scan_folder(
    folder: Path, identifiers: Iterable[str], min_length: int = 1, exclude: Iterable[str] = ()
) -> pd.DataFrame:
    """Raw identifiers and e-mail addresses found anywhere under ``folder``.

    Parameters
    ----------
    folder : Path
        A curated data set, an MLflow artifact root, a run folder.
    identifiers : iterable of str
        Raw identifiers that must not appear (user ids, names).
    min_length : int
        Identifiers shorter than this are not searched in free text (``"7"`` would match any
        number); parquet cells are always compared exactly.
    exclude : iterable of str
        File names left out (``erasures.parquet``: an erasure ledger names the pseudonyms it
        erased, by design).

    Returns
    -------
    DataFrame with columns ``path``, ``location``, ``kind`` (identifier or email), ``match``
        Empty when nothing was found.
    """
    exact = {str(i) for i in identifiers}
    long_enough = {i for i in exact if len(i) >= min_length}
    rows: list[tuple] = []
    excluded = set(exclude)
    for path in sorted(Path(folder).rglob("*")):
        if not path.is_file() or path.name in excluded:
            continue
        if path.suffix == ".parquet":
            rows += scan_parquet(path, exact)
        elif path.suffix in TEXT_SUFFIXES:
            rows += scan_text(path, long_enough)
    return _findings(rows)


def scan_mlflow_run(client, run_id: str, identifiers: Iterable[str]) -> pd.DataFrame:
    """Raw identifiers and e-mail addresses in a run's params, tags and metric names.

    Parameters
    ----------
    client : mlflow.MlflowClient
    run_id : str
    identifiers : iterable of str

    Returns
    -------
    DataFrame with columns ``path`` (the run id), ``location``, ``kind``, ``match``
    """
    run = client.get_run(run_id)
    exact = {str(i) for i in identifiers}
    rows = []
    for location, mapping in (("params", run.data.params), ("tags", run.data.tags)):
        for name, value in mapping.items():
            tokens = set(TOKEN.findall(f"{name} {value}"))
            rows += _scan_values(tokens | {str(value)}, exact, run_id, f"{location}.{name}")
    rows += _scan_values(run.data.metrics.keys(), exact, run_id, "metrics")
    return _findings(rows)


def scan_planted(folders: Iterable[Path], planted: Iterable[str]) -> pd.DataFrame:
    """Planted personal values found anywhere under ``folders``, as substrings.

    Every string cell and column name of every parquet file, and the whole text of every
    other file (notebooks, manifests, logs, MLflow's SQLite store read as bytes), is searched
    for each planted value, case-insensitively.

    Returns
    -------
    DataFrame with columns ``path``, ``location``, ``kind`` ("planted"), ``match``
    """
    needles = [p.lower() for p in planted if p]
    rows: list[tuple] = []
    for folder in folders:
        folder = Path(folder)
        paths = [folder] if folder.is_file() else sorted(folder.rglob("*"))
        for path in (p for p in paths if p.is_file()):
            if path.suffix == ".parquet":
                frame = pq.read_table(path).to_pandas().reset_index()
                texts = [(str(c), "<columns>") for c in frame.columns]
                for column in frame.columns:
                    for value in frame[column].dropna().astype(str).unique():
                        texts.append((value, str(column)))
            else:
                texts = [(path.read_bytes().decode("utf-8", errors="ignore"), "<bytes>")]
                texts.append((path.read_bytes().decode("utf-16-le", errors="ignore"), "<utf16>"))
            for text, location in texts:
                lowered = text.lower()
                rows += [(str(path), location, "planted", n) for n in needles if n in lowered]
    return _findings(rows)
