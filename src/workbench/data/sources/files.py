"""Your own data: CSV or parquet files laid out as the data contract says.

Pass ``events`` (required) and optionally ``users``, ``items`` and ``consent`` as file paths
in the configuration's ``data.options``. Column names must be the contract's; ``categories``
in a CSV is a ``|``-separated string. Timestamps are parsed by curation.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from workbench.data.sources.base import Source


class SourceFileError(ValueError):
    """An input file is unusable as a whole: missing, empty, or in the wrong format."""


def read_file(path: Path) -> pd.DataFrame:
    """Read one CSV or parquet file; a clear error when it is missing or empty."""
    path = Path(path)
    if not path.is_file():
        raise SourceFileError(f"{path}: no such file")
    if path.suffix == ".parquet":
        frame = pd.read_parquet(path)
    elif path.suffix in (".csv", ".gz", ".tsv"):
        if path.stat().st_size == 0:
            raise SourceFileError(f"{path}: the file is empty")
        sep = "\t" if path.suffix == ".tsv" else ","
        frame = pd.read_csv(
            path,
            sep=sep,
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            encoding_errors="replace",
        )
    else:
        raise SourceFileError(f"{path}: unsupported file type {path.suffix!r} (csv or parquet)")
    if frame.empty:
        raise SourceFileError(f"{path}: the file has no rows")
    frame.attrs["source_file"] = str(path)
    return frame


def load(
    raw_dir: Path | None = None,
    mirror: Path | None = None,
    events: str = "",
    users: str = "",
    items: str = "",
    consent: str = "",
    base_dir: str = "",
) -> dict[str, pd.DataFrame]:
    """Read the named files (relative paths resolve against ``base_dir``)."""
    if not events:
        raise SourceFileError("the files source needs data.options.events: a CSV or parquet path")
    base = Path(base_dir) if base_dir else Path.cwd()
    tables = {}
    for table, name in (
        ("events", events),
        ("users", users),
        ("items", items),
        ("consent", consent),
    ):
        if name:
            tables[table] = read_file(base / name)
    if "items" in tables and "categories" in tables["items"]:
        categories = tables["items"]["categories"]
        if categories.map(lambda v: isinstance(v, str)).all():
            tables["items"]["categories"] = (
                categories.fillna("").str.split("|").map(lambda values: [v for v in values if v])
            )
    return tables


SOURCE = Source("files", load)
