"""Standardization: timestamps to UTC, categories, text and countries."""

from __future__ import annotations

import unicodedata

import numpy as np
import pandas as pd

from workbench.data.standardize import (
    canonical_ids,
    country_codes,
    encode,
    isin,
    map_distinct,
    normalize_categorical,
    normalize_column_names,
    normalize_text,
    to_utc,
)


def test_mixed_timestamp_forms_land_on_the_same_instant():
    values = pd.Series(
        [
            "2024-07-01T14:00:00+02:00",  # offset
            "2024-07-01T12:00:00Z",  # UTC designator
            "1719835200",  # epoch seconds
            "2024-07-01 13:00:00",  # naive, London summer time (UTC+1)
            "not a time",
            None,
        ],
        dtype="str",
    )
    parsed = to_utc(values, source_timezone="Europe/London")
    assert str(parsed.dtype) == "datetime64[us, UTC]"
    expected = pd.Timestamp("2024-07-01 12:00:00", tz="UTC")
    assert (parsed.iloc[:4] == expected).all()
    assert parsed.iloc[4:].isna().all()


def test_naive_times_follow_the_source_zone_across_daylight_saving():
    values = pd.Series(["2024-01-15 09:00:00", "2024-07-15 09:00:00"], dtype="str")
    parsed = to_utc(values, source_timezone="Europe/Paris")
    assert parsed.dt.hour.tolist() == [8, 7]


def test_ambiguous_and_skipped_local_times_are_not_lost():
    values = pd.Series(["2024-10-27 01:30:00", "2024-03-31 01:30:00"], dtype="str")
    parsed = to_utc(values, source_timezone="Europe/London")
    assert parsed.notna().all()
    assert parsed.iloc[0] == pd.Timestamp("2024-10-27 00:30", tz="UTC")  # first occurrence


def test_typed_inputs_are_converted_not_reparsed():
    aware = pd.Series(pd.to_datetime(["2024-01-01 10:00"]).tz_localize("Asia/Tokyo"))
    assert to_utc(aware).iloc[0] == pd.Timestamp("2024-01-01 01:00", tz="UTC")
    epochs = pd.Series([0, 86400])
    assert to_utc(epochs).iloc[1] == pd.Timestamp("1970-01-02", tz="UTC")
    ms = pd.Series(["1000"], dtype="str")
    assert to_utc(ms, epoch_unit="ms").iloc[0] == pd.Timestamp("1970-01-01 00:00:01", tz="UTC")


def test_absurd_epochs_become_missing_instead_of_overflowing():
    assert to_utc(pd.Series(["9" * 25], dtype="str")).isna().all()


def test_categories_are_trimmed_lowered_and_mapped_through_synonyms():
    values = pd.Series(["  Buy ", "VIEW", "add  to cart", "", None], dtype="str")
    result = normalize_categorical(values, {"buy": "purchase", "Add to Cart": "add_to_cart"})
    assert result.iloc[:3].tolist() == ["purchase", "view", "add_to_cart"]
    assert result.iloc[3:].isna().all()


def test_text_is_nfc_without_byte_order_marks():
    decomposed = unicodedata.normalize("NFD", "Café crème")
    result = normalize_text(pd.Series(["\ufeff" + decomposed + " "], dtype="str"))
    assert result.iloc[0] == "Café crème"
    assert unicodedata.is_normalized("NFC", result.iloc[0])


def test_country_names_become_iso_codes():
    names = pd.Series(
        [
            "United Kingdom",
            "EIRE",
            "RSA",
            "usa",
            "Czech Republic",
            "FR",
            "European Community",
            "Atlantis",
            None,
        ],
        dtype="str",
    )
    codes = country_codes(names).tolist()
    assert codes[:6] == ["GB", "IE", "ZA", "US", "CZ", "FR"]
    assert all(pd.isna(code) for code in codes[6:])


def test_column_names_lose_byte_order_marks_and_padding():
    assert normalize_column_names(["\ufeffuser_id", " item_id "]) == ["user_id", "item_id"]


def test_map_distinct_and_encode_agree_on_object_and_arrow_columns():
    for dtype in ("str", object):
        values = pd.Series(["b", "a", None, "b"], dtype=dtype)
        assert map_distinct(values, str.upper).tolist()[:2] == ["B", "A"]
        codes, n_distinct = encode(values)
        assert n_distinct == 2
        np.testing.assert_array_equal(codes, [0, 1, -1, 0])


def test_canonical_ids_flag_control_characters_in_ascii_and_other_text_alike():
    for dtype in ("str", object):
        values = pd.Series(
            ["u1", "u\x002", "caf\u00e9", "a\u200bb", "\u00e9\x7f", "17850.0", None, " u3 "],
            dtype=dtype,
        )
        ids, invalid = canonical_ids(values)
        assert invalid.tolist() == [False, True, False, True, True, False, False, False], dtype
        assert ids.iloc[5] == "17850" and pd.isna(ids.iloc[6]) and ids.iloc[7] == "u3"


def test_isin_finds_known_values_and_never_nulls():
    for dtype in ("str", object):
        values = pd.Series(["a", None, "c", "a"], dtype=dtype)
        assert isin(values, pd.Series(["a", "b"], dtype="str")).tolist() == [
            True,
            False,
            False,
            True,
        ]
        assert not isin(values, []).any()
