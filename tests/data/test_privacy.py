"""Consent, pseudonyms, redaction, key handling, erasure and scans."""

from __future__ import annotations

import pandas as pd
import pytest
from helpers.pii_scan import scan_folder

from workbench.data import privacy, store


def test_pseudonyms_are_stable_for_a_key_and_differ_across_keys():
    ids = pd.Series(["17850", "13047", "17850", None], dtype="str")
    first = privacy.pseudonymize(ids, b"key-one")
    again = privacy.pseudonymize(ids, b"key-one")
    other = privacy.pseudonymize(ids, b"key-two")
    assert first.tolist() == again.tolist()
    assert first.iloc[0] == first.iloc[2] != first.iloc[1]
    assert first.iloc[0] != other.iloc[0]
    assert len(first.iloc[0]) == privacy.PSEUDONYM_LENGTH
    assert "17850" not in first.iloc[0] and pd.isna(first.iloc[3])


def test_key_comes_from_the_environment_value_else_a_file_created_once(tmp_path):
    key_file = tmp_path / "secrets" / "pseudonym.key"
    assert privacy.resolve_key("from-env", key_file) == b"from-env"
    assert not key_file.exists()
    created = privacy.resolve_key(None, key_file)
    assert privacy.resolve_key("", key_file) == created
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"


def _consent(rows) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["user_id", "purpose", "granted", "timestamp"])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    return frame


def test_latest_consent_per_purpose_wins_and_a_withdrawal_wins_a_tie():
    consent = _consent(
        [
            ("a", "personalization", True, "2024-01-01"),
            ("a", "personalization", False, "2024-02-01"),
            ("a", "analytics", True, "2024-01-01"),
            ("b", "personalization", False, "2024-01-01"),
            ("b", "personalization", True, "2024-03-01"),
            ("c", "personalization", True, "2024-01-01"),
            ("c", "personalization", False, "2024-01-01"),
        ]
    )
    flags = privacy.consent_flags(pd.Series(["a", "b", "c", "d"]), consent)
    assert flags["personalization_allowed"].tolist() == [False, True, False, False]
    assert flags["analytics_allowed"].tolist() == [True, False, False, False]


def test_without_any_consent_table_the_default_applies():
    flags = privacy.consent_flags(pd.Series(["a"]), None, default=True)
    assert flags.iloc[0].tolist() == [True, True]


def test_training_events_leave_out_users_without_personalization_consent():
    users = pd.DataFrame({"user_id": ["a", "b"], "personalization_allowed": [True, False]})
    events = pd.DataFrame({"user_id": ["a", "b", "b", "z"], "item_id": ["1", "2", "3", "4"]})
    assert privacy.training_events(events, users)["user_id"].tolist() == ["a"]
    assert privacy.non_personalized_users(users).tolist() == ["b"]


def test_free_text_loses_emails_phone_numbers_and_ip_addresses():
    text = pd.Series(
        [
            "mail jane.doe+shop@example.co.uk today",
            "call +44 20 7946 0958 or 020-7946-0958",
            "from 192.168.10.254 and fe80:0:0:0:202:b3ff:fe1e:8329",
            "WHITE HANGING HEART T-LIGHT HOLDER 85123A, pack of 12",
        ],
        dtype="str",
    )
    clean = privacy.redact_text(text).tolist()
    assert clean[0] == "mail [email] today"
    assert clean[1] == "call [phone] or [phone]"
    assert clean[2] == "from [ip] and [ip]"
    assert clean[3] == text.iloc[3]


def test_forget_erases_a_user_everywhere_and_records_it(tmp_path):
    key = b"k"
    alice, bob = privacy.pseudonym("alice", key), privacy.pseudonym("bob", key)
    folder = tmp_path / "shop"
    tables = {
        "events": pd.DataFrame({"user_id": [alice, bob, alice], "item_id": ["1", "2", "3"]}),
        "users": pd.DataFrame({"user_id": [alice, bob]}),
    }
    store.write_tables(folder, tables, extra={"source": "test"})
    rfm = pd.DataFrame({"recency": [1.0, 2.0]}, index=pd.Index([alice, bob], name="user_id"))
    rfm.to_parquet(folder / "rfm.parquet")  # a feature table written with its index
    summary = privacy.forget(folder, "alice", key)
    assert summary["rows_removed"] == {"events": 2, "users": 1, "rfm": 1}
    assert store.read_table(folder, "events")["user_id"].tolist() == [bob]
    assert store.read_table(folder, "rfm")["user_id"].tolist() == [bob]
    assert privacy.erased_pseudonyms(folder) == {alice}
    assert store.read_manifest(folder)["source"] == "test"
    findings = scan_folder(folder, [alice])
    assert findings["path"].str.endswith("erasures.parquet").all()  # only the erasure log


def test_forget_command_runs_over_every_curated_data_set(tmp_path):
    key = b"k"
    for name in ("one", "two"):
        users = pd.DataFrame({"user_id": [privacy.pseudonym("carol", key)]})
        store.write_tables(tmp_path / name, {"users": users, "events": users})
    result = privacy.forget_command("carol", tmp_path, key)
    assert sorted(result) == ["one", "two"]
    assert all(r["rows_removed"]["users"] == 1 for r in result.values())


def test_scan_finds_raw_identifiers_and_emails(tmp_path):
    pd.DataFrame({"user_id": ["17850"], "note": ["write to a@b.org"]}).to_parquet(
        tmp_path / "leak.parquet"
    )
    (tmp_path / "params.json").write_text('{"user": "17850"}')
    findings = scan_folder(tmp_path, ["17850"])
    assert set(findings["kind"]) == {"identifier", "email"}
    assert set(findings["path"].map(lambda p: p.rsplit("/", 1)[-1])) == {
        "leak.parquet",
        "params.json",
    }


@pytest.mark.parametrize("column", ["user_id", "merged_into"])
def test_erasure_targets_include_ids_merged_with_the_user(column):
    merges = pd.DataFrame({"user_id": ["x"], "merged_into": ["y"]})
    start = "x" if column == "user_id" else "y"
    assert privacy.erasure_targets(start, merges) == {"x", "y"}


@pytest.mark.parametrize(
    ("ids", "users", "embedded"),
    [
        (["e000001", "e000002"], ["u0000001", "u0000002"], False),
        (["17850-2011-01-01", "x"], ["17850", "12346"], True),  # a run of digits
        (["cust17850_3"], ["cust17850"], True),  # a run of letters and digits
        (["u0000001"], ["u0000001"], True),  # the whole id
        (["17850"], ["17850"], True),
        (["x178501"], ["17850"], False),  # inside a longer run: another number
        (["ab-1"], ["ab"], False),  # too short to tell
        (["+44 20 7946 0958/1"], ["+44 20 7946 0958"], True),  # a phone number, anywhere
        (["order-1", "mail me@example.org"], ["u1", "u2"], True),  # an e-mail address
        ([None, "17850-1"], ["17850", None], False),  # nothing to compare
    ],
)
def test_embeds_user_ids_knows_ids_built_from_user_ids(ids, users, embedded):
    for dtype in ("str", object):
        found = privacy.embeds_user_ids(pd.Series(ids, dtype=dtype), pd.Series(users, dtype=dtype))
        assert found is embedded, dtype


def test_keyed_ids_keep_their_values_on_arrow_and_object_columns():
    """Pinned: a faster implementation must not change a pseudonym already stored."""
    for dtype in ("str", object):
        keyed = privacy.keyed_ids(pd.Series(["s1", None, "s1", "s2"], dtype=dtype), b"k", "s")
        assert keyed.isna().tolist() == [False, True, False, False]
        assert keyed.dropna().tolist() == ["s36c9f2db642fec38"] * 2 + ["s348e5058c774d6a5"], dtype
