"""Whole-input errors, first-reason verdicts and reconciliation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.data.fields import to_boolean, to_number
from workbench.data.quality import (
    InputError,
    ReconciliationError,
    Verdicts,
    check_input,
    quarantine_records,
    reconcile,
)


def _frame(source: str = "events.csv", **columns) -> pd.DataFrame:
    frame = pd.DataFrame(columns)
    frame.attrs["source_file"] = source
    return frame


def test_missing_required_column_names_the_file_and_the_column():
    frame = _frame(user_id=["1"], item_id=["2"], event_type=["view"])
    with pytest.raises(InputError, match=r"events\.csv.*'timestamp'"):
        check_input(frame, "events", ["user_id", "item_id", "event_type", "timestamp"])


def test_empty_input_is_an_error():
    frame = _frame(user_id=pd.Series(dtype="str"))
    with pytest.raises(InputError, match="events.csv.*empty"):
        check_input(frame, "events", ["user_id"])


def test_wrong_delimiter_is_recognized_from_the_header():
    frame = _frame(**{"user_id;item_id;timestamp": ["1;2;3"]})
    with pytest.raises(InputError, match="wrong delimiter.*';'"):
        check_input(frame, "events", ["user_id"])


def test_a_row_keeps_its_first_reason():
    verdicts = Verdicts.empty(3)
    assert verdicts.flag(np.array([True, False, False]), "missing_required", "user_id") == 1
    assert verdicts.flag(np.array([True, True, False]), "out_of_range", "value") == 1
    assert verdicts.counts() == {"missing_required": 1, "out_of_range": 1}
    assert verdicts.column.tolist() == ["user_id", "value", None]


def test_quarantine_records_keep_original_values_and_provenance():
    raw = _frame(user_id=["u1", "u2"], value=["three", "3"])
    verdicts = Verdicts.empty(2)
    verdicts.flag(np.array([True, False]), "unparseable_type", "value")
    records = quarantine_records(raw, verdicts, "events")
    assert len(records) == 1
    row = records.iloc[0]
    assert (row["row"], row["reason"], row["column"], row["value"]) == (
        0,
        "unparseable_type",
        "value",
        "three",
    )
    assert row["source_file"] == "events.csv"
    assert '"value":"three"' in row["record"]


def test_reconciliation_mismatch_raises_naming_the_table():
    counts = {"events_in": 10, "events_curated": 7, "events_quarantined": 2, "events_duplicates": 0}
    with pytest.raises(ReconciliationError, match="events: 10 rows in but 9"):
        reconcile(counts, "events")
    counts["events_duplicates"] = 1
    reconcile(counts, "events")


def test_numbers_and_booleans_parse_or_become_missing():
    assert to_number(pd.Series([" 1.5", "x", None], dtype="str")).iloc[:2].tolist()[0] == 1.5
    assert to_number(pd.Series(["x"], dtype="str")).isna().all()
    flags = to_boolean(pd.Series(["Yes", "withdrawn", "maybe"], dtype="str"))
    assert flags.iloc[0] is True or bool(flags.iloc[0]) is True
    assert bool(flags.iloc[1]) is False
    assert pd.isna(flags.iloc[2])
