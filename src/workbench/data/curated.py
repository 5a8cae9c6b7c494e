"""A curated data set as the model notebooks read it: its tables, digest and training events."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pandas as pd

from workbench.data import privacy, store


@dataclass(frozen=True)
class CuratedDataset:
    """The curated folder of one data set (``data/curated/<name>``).

    Attributes
    ----------
    name : str
    folder : Path
    """

    name: str
    folder: Path

    @cached_property
    def digest(self) -> str:
        """The manifest's digest of every table: the data set's version."""
        return store.read_manifest(self.folder)["digest"]

    def read(self, table: str) -> pd.DataFrame:
        """Table ``table``."""
        return store.read_table(self.folder, table)

    def read_optional(self, table: str) -> pd.DataFrame | None:
        """Table ``table``, or None when the data set has none."""
        return self.read(table) if store.has_table(self.folder, table) else None

    def write(self, table: str, frame: pd.DataFrame) -> Path:
        """Add or replace a derived table (``store.write_table``)."""
        return store.write_table(self.folder, table, frame)

    def training_events(self) -> pd.DataFrame:
        """Events of users who consent to personalization (``privacy.training_events``)."""
        return privacy.training_events(self.read("events"), self.read("users"))
