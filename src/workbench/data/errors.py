"""Errors of the data layer: they name the file, the row or line and the column, never a value.

Messages quote no raw value of a personal column (ids, names, e-mails): they say where the
problem is (file, 1-based line or 0-based data row, column), so that an error stored in a run
folder or in MLflow leaks nothing.
"""

from __future__ import annotations


class InputError(ValueError):
    """A whole input is unusable; the message names the file and the column."""


class ReconciliationError(AssertionError):
    """Rows in do not equal curated + quarantined + duplicates + erased."""


class CurationCheckError(ValueError):
    """A staged curated version failed a check (empty, non-finite, out of its window...)."""


class IngestFailed(RuntimeError):
    """Ingestion failed; the curated data set was left exactly as it was (the message says which
    version). ``__cause__`` holds the original error."""


class UnknownUserError(LookupError):
    """``forget`` was asked to erase an id that no curated data set holds."""
