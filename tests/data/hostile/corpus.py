"""A corpus of hostile input files built at test time from real rows of the shared data sets.

Each ``Case`` writes its files into a folder (real Online Retail invoice lines, turned into
contract columns, then damaged one way), names the personal values it plants, and says what
must happen: the exit code of ``workbench run`` (0 or 1), and for a run that succeeds, checks
on the curated tables. Nothing here is a copy of a data file: rows are read from the mirror.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

EMAIL = "planted.person@example.org"
PHONE = "+44 20 7946 0958"
CARD = "4111 1111 1111 1111"
IPV6 = "2001:db8::4:1"
NAME = "Wilhelmina Planted-Person"


def real_lines(mirror: Path, n_rows: int = 40) -> pd.DataFrame:
    """The first ``n_rows`` Online Retail lines with a customer, as strings."""
    with gzip.open(mirror / "online-retail" / "online_retail.csv.gz", "rt") as handle:
        head = "".join(next(handle) for _ in range(400))
    lines = pd.read_csv(io.StringIO(head), dtype=str, keep_default_na=False, na_values=[""])
    return lines.dropna(subset=["CustomerID"]).head(n_rows).reset_index(drop=True)


def contract_events(lines: pd.DataFrame) -> pd.DataFrame:
    """Invoice lines as contract events (ISO timestamps, purchase/return)."""
    stamps = pd.to_datetime(lines["InvoiceDate"], format="ISO8601")
    return pd.DataFrame(
        {
            "event_id": [f"ev{i}" for i in range(len(lines))],
            "user_id": lines["CustomerID"].str.replace(r"\.0$", "", regex=True),
            "item_id": lines["StockCode"],
            "event_type": "purchase",
            "value": lines["Quantity"],
            "revenue": (lines["Quantity"].astype(float) * lines["UnitPrice"].astype(float))
            .round(2)
            .astype(str),
            "timestamp": stamps.dt.strftime("%Y-%m-%dT%H:%M:%S"),
            "session_id": lines["InvoiceNo"],
        }
    )


@dataclass
class Case:
    """One hostile input and what must happen to it."""

    name: str
    build: Callable[[pd.DataFrame, Path], dict]  # -> data.options (paths relative to folder)
    exit_code: int = 0
    planted: tuple[str, ...] = ()
    check: Callable[[dict], None] | None = None  # on the curated tables when it succeeds
    fast: bool = False
    options: dict = field(default_factory=dict)


def _csv(folder: Path, name: str, frame: pd.DataFrame, **kwargs) -> str:
    frame.to_csv(folder / name, index=False, **kwargs)
    return name


def _events(events, folder, **kwargs) -> dict:
    return {"events": _csv(folder, "events.csv", events, **kwargs)}


def _with(events: pd.DataFrame, row: int, **values) -> pd.DataFrame:
    events = events.copy()
    for column, value in values.items():
        events.loc[row, column] = value
    return events


def _users(events: pd.DataFrame, **columns) -> pd.DataFrame:
    users = pd.DataFrame({"user_id": sorted(events["user_id"].unique())})
    for column, value in columns.items():
        users[column] = value
    return users


def _times(events, values) -> pd.DataFrame:
    events = events.copy()
    events["timestamp"] = [values[i % len(values)] for i in range(len(events))]
    return events


def _expect_day(day: str):
    def check(result: dict) -> None:
        days = result["events"]["timestamp"].dt.strftime("%Y-%m-%d")
        assert (days == day).all(), days.unique()

    return check


def _expect_reason(reason: str, n_rows: int | None = None):
    def check(result: dict) -> None:
        quarantine = result["quarantine"]
        found = int((quarantine["reason"] == reason).sum())
        assert found == n_rows if n_rows is not None else found > 0, (reason, found)

    return check


def _expect(counts: dict):
    def check(result: dict) -> None:
        for key, value in counts.items():
            assert result["counts"].get(key, 0) == value, (key, result["counts"].get(key))

    return check


def _all(*checks):
    def check(result: dict) -> None:
        for each in checks:
            each(result)

    return check


def _compact(ev, folder):
    return _events(_times(ev, ["20101201"]), folder)


def _epoch_ms(ev, folder):
    return _events(_times(ev, ["1291192200000"]), folder)


def _rfc(ev, folder):
    return _events(_times(ev, ["Wed, 01 Dec 2010 08:26:00 PST"]), folder)


def _slash(ev, folder):
    return _events(_times(ev, ["01/12/2010 08:26"]), folder)


def _years(ev, folder):
    odd = [
        "0001-01-01T00:00:00",
        "1677-06-01T00:00:00",
        "1900-01-01T00:00:00",
        "1969-12-31T00:00:00",
        "2100-01-01T00:00:00",
    ]
    events = ev.copy()
    events.loc[: len(odd) - 1, "timestamp"] = odd
    return _events(events, folder)


def _non_finite(ev, folder):
    events = ev.copy()
    events.loc[:3, "value"] = ["inf", "Infinity", "1e309", "-inf"]
    events.loc[4, "revenue"] = "NaN"
    return _events(events, folder)


def _float_ids(ev, folder):
    events = ev.copy()
    events["user_id"] = events["user_id"].astype(float)
    events["value"] = events["value"].astype(float)
    events["revenue"] = events["revenue"].astype(float)
    events.to_parquet(folder / "events.parquet", index=False)
    return {"events": "events.parquet"}


def _nul_id(ev, folder):
    events = ev.copy()
    events.to_parquet(folder / "events.parquet", index=False)
    events.loc[0, "user_id"] = events.loc[0, "user_id"] + "\x00"
    events.loc[1, "item_id"] = "85\u200b123A"
    events.to_parquet(folder / "events.parquet", index=False)
    return {"events": "events.parquet"}


def _conflict(ev, folder):
    events = pd.concat([ev, ev.iloc[[0]].assign(user_id=ev["user_id"].iloc[-1])], ignore_index=True)
    return _events(events, folder)


def _exact_repeat(ev, folder):
    return _events(pd.concat([ev, ev.iloc[[0]]], ignore_index=True), folder)


def _content_repeat(ev, folder):
    return _events(
        pd.concat([ev, ev.iloc[[0]].assign(event_id="again")], ignore_index=True), folder
    )


def _bad_age(ev, folder):
    users = _users(ev, age="41")
    users.loc[0, "age"] = "thirty"
    users.loc[1, "age"] = "inf"
    return {**_events(ev, folder), "users": _csv(folder, "users.csv", users)}


def _duplicated_header(ev, folder):
    text = ev.to_csv(index=False).replace("session_id", "user_id", 1)
    (folder / "events.csv").write_text(text)
    return {"events": "events.csv"}


def _items_with_pii(ev, folder):
    items = pd.DataFrame({"item_id": sorted(ev["item_id"].unique())})
    items["title"] = "Mug"
    items["seller_email"] = EMAIL
    items["contact_name"] = NAME
    items["notes"] = f"call {PHONE}"
    return {**_events(ev, folder), "items": _csv(folder, "items.csv", items)}


def _session_email(ev, folder):
    events = ev.copy()
    events["user_id"] = EMAIL
    events["session_id"] = EMAIL + "-" + events["session_id"]
    return _events(events, folder)


def _full_name(ev, folder):
    users = _users(ev, full_name=NAME, email=EMAIL)
    events = _with(ev, 0, timestamp="garbage")
    return {**_events(events, folder), "users": _csv(folder, "users.csv", users)}


def _redaction(ev, folder):
    items = pd.DataFrame({"item_id": sorted(ev["item_id"].unique())})
    items["title"] = f"from {IPV6}"
    items["text"] = "card " + CARD.replace(" ", "")
    items["categories"] = f"gifts|{EMAIL}"
    events = _with(ev, 0, value="lots", session_id=f"{IPV6}")
    return {**_events(events, folder), "items": _csv(folder, "items.csv", items)}


def _headerless(ev, folder):
    events = ev.copy()
    events.loc[0, "user_id"] = EMAIL
    events.to_csv(folder / "events.csv", index=False, header=False)
    return {"events": "events.csv"}


def _all_rejected(ev, folder):
    return _events(_times(ev, ["not a time"]), folder)


def _unbalanced(ev, folder):
    text = ev.to_csv(index=False).splitlines()
    text[3] = text[3].replace(",", ',"', 1)
    (folder / "events.csv").write_text("\n".join(text) + "\n")
    return {"events": "events.csv"}


def _tsv_gz(ev, folder):
    ev.to_csv(folder / "events.tsv.gz", index=False, sep="\t", compression="gzip")
    return {"events": "events.tsv.gz"}


def _utf16(ev, folder):
    (folder / "events.csv").write_bytes(ev.to_csv(index=False).encode("utf-16"))
    return {"events": "events.csv"}


def _utf16_no_bom(ev, folder):
    (folder / "events.csv").write_bytes(ev.to_csv(index=False).encode("utf-16-le"))
    return {"events": "events.csv"}


def _semicolons(ev, folder):
    return _events(ev, folder, sep=";")


def _bom(ev, folder):
    (folder / "events.csv").write_bytes(b"\xef\xbb\xbf" + ev.to_csv(index=False).encode())
    return {"events": "events.csv"}


def _hard_negatives(ev, folder):
    ids = sorted(ev["user_id"].unique())
    users = pd.DataFrame({"user_id": ids})
    users["name"] = ["Anna Smith", "Anne Smith"] + ["John Brown"] * (len(ids) - 2)
    users["email"] = ["anna@gmail.com", "anne@gmail.com"] + [None] * (len(ids) - 2)
    extra = pd.DataFrame(
        {
            "user_id": [f"x{k}" for k in range(280)],
            "email": [f"user{k}@example.net" for k in range(280)],
        }
    )
    users = pd.concat([users, extra], ignore_index=True)
    return {**_events(ev, folder), "users": _csv(folder, "users.csv", users)}


def _naive_new_york(ev, folder):
    return _events(_times(ev, ["2010-12-01 20:00:00"]), folder)


def _truncated(ev, folder):
    text = ev.to_csv(index=False).splitlines()
    text[2] = ",".join(text[2].split(",")[:3])
    (folder / "events.csv").write_text("\n".join(text) + "\n")
    return {"events": "events.csv"}


def _latin1(ev, folder):
    text = ev.to_csv(index=False).replace(ev["item_id"].iloc[0], "CAF\xc9", 1)
    (folder / "events.csv").write_bytes(text.encode("latin-1"))
    return {"events": "events.csv"}


def _unknown_zone(ev, folder):
    return _events(_times(ev, ["2010-12-01 08:26 CET"]), folder)


CASES = [
    Case("compact_dates", _compact, check=_expect_day("2010-12-01"), fast=True),
    Case("epoch_milliseconds", _epoch_ms, check=_expect_day("2010-12-01")),
    Case("rfc2822_pst", _rfc, check=_expect_day("2010-12-01")),
    Case("ambiguous_day_month", _slash, exit_code=1, fast=True),
    Case(
        "day_month_with_format",
        _slash,
        check=_expect_day("2010-12-01"),
        options={"timestamp_format": "%d/%m/%Y %H:%M"},
    ),
    Case(
        "implausible_years",
        _years,
        check=_all(
            _expect_reason("implausible_timestamp", 4), _expect_reason("future_timestamp", 1)
        ),
        fast=True,
    ),
    Case("non_finite_numbers", _non_finite, check=_expect_reason("non_finite", 5), fast=True),
    Case("float_ids_in_parquet", _float_ids, check=_expect({"events_quarantined": 0})),
    Case("control_characters_in_ids", _nul_id, check=_expect_reason("invalid_id", 2)),
    Case(
        "one_id_two_contents",
        _conflict,
        check=_expect_reason("conflicting_duplicate", 2),
        fast=True,
    ),
    Case("exact_repeat", _exact_repeat, check=_expect({"events_duplicates": 1})),
    Case("content_repeat_is_kept", _content_repeat, check=_expect({"events_duplicates": 0})),
    Case(
        "content_rule_configured",
        _content_repeat,
        check=_expect({"events_duplicates": 1}),
        options={"dedup": {"content": True, "tolerance_seconds": 0}},
    ),
    Case(
        "bad_optional_attribute",
        _bad_age,
        check=_expect(
            {
                "users_quarantined": 0,
                "events_quarantined": 0,
                "users_issue_unparseable_type": 1,
                "users_issue_non_finite": 1,
            }
        ),
        fast=True,
    ),
    Case("duplicated_header", _duplicated_header, exit_code=1),
    Case("items_with_personal_columns", _items_with_pii, planted=(EMAIL, NAME, PHONE), fast=True),
    Case("sessions_from_emails", _session_email, planted=(EMAIL,)),
    Case("quarantine_full_name", _full_name, planted=(EMAIL, NAME)),
    Case("redaction_forms", _redaction, planted=(EMAIL, IPV6, CARD.replace(" ", "")), fast=True),
    Case("no_header_row", _headerless, exit_code=1, planted=(EMAIL,)),
    Case("every_row_rejected", _all_rejected, exit_code=1, fast=True),
    Case("unbalanced_quote", _unbalanced, exit_code=1),
    Case("tab_separated_gzip", _tsv_gz, check=_expect({"events_quarantined": 0})),
    Case("utf16_with_bom", _utf16, check=_expect({"events_quarantined": 0})),
    Case("utf16_without_bom", _utf16_no_bom, check=_expect({"events_quarantined": 0})),
    Case("semicolons", _semicolons, check=_expect({"events_quarantined": 0})),
    Case("utf8_bom", _bom, check=_expect({"events_quarantined": 0})),
    Case("identity_hard_negatives", _hard_negatives, check=_expect({"users_merged": 0})),
    Case(
        "time_zone_option",
        _naive_new_york,
        check=_expect_day("2010-12-02"),
        options={"timezone": "America/New_York"},
    ),
    Case("truncated_line", _truncated, check=_expect_reason("missing_required", 1)),
    Case("latin1_bytes", _latin1, check=_expect_reason("bad_encoding", 1)),
    Case("zone_name_without_one_meaning", _unknown_zone, exit_code=1),
]
