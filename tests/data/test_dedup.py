"""Exact duplicate events and fuzzy user resolution."""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.data.dedup import (
    apply_merges,
    duplicate_events,
    duplicate_ids,
    key_codes,
    repeated_ids,
)
from workbench.data.linkage import resolve_users


def _events(seconds, users=None, values=None) -> pd.DataFrame:
    n = len(seconds)
    return pd.DataFrame(
        {
            "user_id": users or ["u"] * n,
            "item_id": "i",
            "event_type": "view",
            "value": values or [1.0] * n,
            "timestamp": pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(seconds, "s"),
        }
    )


def test_repeats_within_the_tolerance_are_duplicates_and_the_first_is_kept():
    events = _events([0, 0.4, 10, 0], users=["u", "u", "u", "v"])
    np.testing.assert_array_equal(
        duplicate_events(events, tolerance_seconds=1), [False, True, False, False]
    )
    np.testing.assert_array_equal(
        duplicate_events(events, tolerance_seconds=0), [False, False, False, False]
    )


def test_events_differing_in_a_key_column_are_not_duplicates():
    events = _events([5, 5, 5], values=[1.0, 2.0, 1.0])
    np.testing.assert_array_equal(duplicate_events(events), [False, False, True])


def test_the_kept_event_is_the_earliest_whatever_the_row_order():
    events = _events([3, 0])
    np.testing.assert_array_equal(duplicate_events(events, tolerance_seconds=5), [True, False])


def test_key_codes_treat_nulls_as_equal():
    frame = pd.DataFrame({"a": ["x", None, "x", None], "b": [1.0, np.nan, 1.0, np.nan]})
    codes = key_codes(frame, ["a", "b"])
    assert codes[0] == codes[2] and codes[1] == codes[3] and codes[0] != codes[1]


def test_repeated_ids_after_the_first_are_marked():
    ids = pd.Series(["a", "b", "a", "c", "b"], dtype="str")
    np.testing.assert_array_equal(duplicate_ids(ids), [False, False, True, False, True])
    in_order = pd.Series(["a", "a", "b", "c", "c"], dtype="str")  # compared with neighbours
    np.testing.assert_array_equal(duplicate_ids(in_order), [False, True, False, False, True])
    with_null = pd.Series(["a", None, "a", None], dtype="str")
    np.testing.assert_array_equal(duplicate_ids(with_null), [False, False, True, True])


def test_one_id_with_equal_content_is_a_duplicate_with_other_content_a_conflict():
    ids = pd.Series(["a", "a", "b", "b", "c"], dtype="str")
    content = pd.DataFrame({"value": [1.0, 1.0, 2.0, 3.0, 4.0]})
    duplicate, conflict = repeated_ids(ids, content)
    np.testing.assert_array_equal(duplicate, [False, True, False, False, False])
    np.testing.assert_array_equal(conflict, [False, False, True, True, False])


def _people() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user_id": ["17", "42", "7", "99"],
            "name": ["Jane Smith", "Smith, Jane", "Janet Smithers", "Bob Stone"],
            "email": [
                "jane.smith@example.com",
                "Jane.Smith@example.com ",
                "janet.s@example.org",
                "bob@example.net",
            ],
            "address": ["1 High Street, Leeds", "1 High St Leeds", "9 Low Road, York", None],
        }
    )


def test_one_normalized_email_is_one_person_merged_into_the_smallest_id():
    merges, _ = resolve_users(_people())
    assert merges[["user_id", "merged_into", "rule"]].values.tolist() == [["42", "17", "email"]]


def test_similar_emails_and_shared_names_are_not_merged():
    users = pd.DataFrame(
        {
            "user_id": ["1", "2", "3", "4", *[f"u{k}" for k in range(30)]],
            "name": ["Anna Smith", "Anne Smith", "John Brown", "John Brown", *["X"] * 30],
            "email": [
                "anna@gmail.com",
                "anne@gmail.com",
                None,
                None,
                *[f"user{k}@example.net" for k in range(30)],
            ],
        }
    )
    merges, _ = resolve_users(users)
    assert merges.empty


def test_a_scored_merge_needs_the_name_and_another_field():
    users = pd.DataFrame(
        {
            "user_id": ["8", "9", "10"],
            "name": ["John Brown", "Jon Brown", "Mary Brown"],
            "email": ["jb@x.com", "jbrown@y.com", "mb@x.com"],
            "address": ["5 Elm Road Bath", "5 Elm Rd, Bath", "5 Elm Road, Bath"],
            "phone": ["+44 1225 123456", "01225 123456", "01225 123456"],
        }
    )
    merges, review = resolve_users(users)
    assert merges[["user_id", "merged_into"]].values.tolist() == [["9", "8"]]
    assert merges["rule"].iloc[0] == "fellegi_sunter" and merges["score"].iloc[0] >= 0.999
    assert "10" in set(review["candidate_id"])  # same household: reported, never merged


def test_a_placeholder_email_shared_by_many_links_nobody():
    users = pd.DataFrame({"user_id": list("abcde"), "email": ["none@none.com"] * 5})
    merges, review = resolve_users(users)
    assert merges.empty and set(review["reason"]) == {"shared_identifier"}


def test_no_identity_columns_means_no_merges():
    assert resolve_users(pd.DataFrame({"user_id": ["1", "2"]}))[0].empty


def test_merges_apply_to_event_user_ids():
    merges = pd.DataFrame({"user_id": ["42"], "merged_into": ["17"]})
    ids = pd.Series(["42", "17", "99"], dtype="str")
    assert apply_merges(ids, merges).tolist() == ["17", "17", "99"]
