"""Curation end to end: corrupted copies of real files, consent, and what reaches the disk."""

from __future__ import annotations

import json

import mlflow
import numpy as np
import pandas as pd
import pytest
from helpers.pii_scan import scan_folder, scan_mlflow_run

from workbench.data import incremental, ingest, privacy, report, store
from workbench.data.curate import CurationSettings, curate
from workbench.data.quality import REASONS, InputError
from workbench.data.sources.files import read_file
from workbench.data.sources.online_retail import to_contract
from workbench.data.sources.synthetic import generate

KEY = b"test-key"


def assert_every_row_in_one_place(raw_events: pd.DataFrame, curation) -> dict[str, str]:
    """Check the reconciliation row by row; return each quarantined event id's reason."""
    counts = curation.counts
    assert counts["events_in"] == len(raw_events)
    assert counts["events_in"] == (
        counts["events_curated"] + counts["events_quarantined"] + counts["events_duplicates"]
    )
    quarantine = curation.quarantine[curation.quarantine["table"] == "events"]
    assert quarantine["row"].is_unique
    assert quarantine["reason"].isin(REASONS).all() and quarantine["column"].notna().all()
    quarantined = raw_events["event_id"].iloc[quarantine["row"]].tolist()
    curated = set(curation.tables["events"]["event_id"])
    assert curated.isdisjoint(quarantined)
    assert len(curated) == counts["events_curated"]
    return dict(zip(quarantined, quarantine["reason"], strict=True))


MOVIELENS_CORRUPTIONS = {
    # event id: (fields after event_id, expected reason or None when curated)
    "l01": ("196\t242\trating\t3", "missing_required"),  # truncated line
    "l02": ("196\t242\trating\tthree\t881250949", "unparseable_type"),
    "l03": ("196\t242\trating\t3\tlast tuesday", "unparseable_timestamp"),
    "l04": ("186\t302\trating\t3\t1997-12-04T15:55:49+02:00", None),  # offset
    "l05": ("186\t302\tRating \t4\t1997-12-04 15:55:49", None),  # naive Chicago time
    "l06": ("22\t377\trating\t1\t4102444800", "future_timestamp"),
    "l07": ("244\t51\trating\t2\t880606923", None),
    "l08": ("244\t51\trating\t2\t880606923", None),  # same content, another id: kept
    "l09": ("166\t346\trating\t7\t886397596", "out_of_range"),
    "l10": ("298\t99999\trating\t4\t884182806", "unknown_item"),
    "l11": ("5000\t474\trating\t4\t884182806", "unknown_user"),
    "l13": ("115\t-\trating\t2\t881171488", "bad_encoding"),
    "l14": ("253\t465\trating\t-1\t891628467", "out_of_range"),
    "l15": ("\t465\trating\t5\t891628467", "missing_required"),
    "l16": ("305\t451\tteleport\t3\t886324817", "out_of_range"),
}


def _corrupted_movielens(mirror, folder):
    """u.data lines in contract columns, corrupted line by line, with a BOM and bad bytes."""
    clean = (mirror / "ml-100k" / "u.data").read_text().splitlines()[:40]
    lines = [b"\xef\xbb\xbfevent_id\tuser_id\titem_id\tevent_type\tvalue\ttimestamp"]
    for index, line in enumerate(clean):
        event_id = f"l{index:02d}"
        user, item, rating, epoch = line.split("\t")
        fields = MOVIELENS_CORRUPTIONS.get(
            event_id, (f"{user}\t{item}\trating\t{rating}\t{epoch}",)
        )
        text = f"{event_id}\t{fields[0]}".encode()
        lines.append(text.replace(b"\t-\t", b"\t24\xff2\t"))  # a non-UTF-8 item id
    path = folder / "ratings.tsv"
    path.write_bytes(b"\n".join(lines) + b"\n")
    users = pd.read_csv(mirror / "ml-100k" / "u.user", sep="|", header=None, dtype=str)
    items = pd.read_csv(
        mirror / "ml-100k" / "u.item", sep="|", header=None, dtype=str, encoding="latin-1"
    )
    return {
        "events": read_file(path),
        "users": pd.DataFrame({"user_id": users[0], "age": users[1], "gender": users[2]}),
        "items": pd.DataFrame({"item_id": items[0], "title": items[1]}),
    }


@pytest.mark.mirror
def test_corrupted_movielens_rows_each_end_in_one_place_with_their_reason(tmp_path, mirror):
    raw = _corrupted_movielens(mirror, tmp_path)
    settings = CurationSettings(
        pseudonym_key=KEY,
        source_timezone="America/Chicago",
        rating_scale=(1, 5),
        consent_default=True,
    )
    curation = curate(raw, settings)
    reasons = assert_every_row_in_one_place(raw["events"], curation)
    expected = {k: v for k, (_, v) in MOVIELENS_CORRUPTIONS.items() if v and v != "duplicate"}
    assert reasons == expected
    assert curation.counts["events_duplicates"] == 0
    events = curation.tables["events"].set_index("event_id")
    assert "l08" in events.index and "l07" in events.index  # content repeats are kept
    assert events.loc["l04", "timestamp"] == pd.Timestamp("1997-12-04 13:55:49", tz="UTC")
    assert events.loc["l05", "timestamp"] == pd.Timestamp("1997-12-04 21:55:49", tz="UTC")
    assert events.loc["l05", "event_type"] == "rating"
    quarantine = curation.quarantine.set_index(
        raw["events"]["event_id"].iloc[curation.quarantine["row"]].to_numpy()
    )
    assert quarantine.loc["l02", "value"] == "three"
    assert quarantine.loc["l02", "source_file"].endswith("ratings.tsv")
    assert json.loads(quarantine.loc["l03", "record"])["timestamp"] == "last tuesday"
    summary = report.quarantine_summary(curation.quarantine)
    assert summary["rows"].sum() == len(expected)


RETAIL_EXTRA = [
    # (csv line, expected reason or None)
    (
        "581001,22423,REGENCY CAKESTAND 3 TIER,2,2011-12-01 10:00:00,-12.75,17850,United Kingdom",
        "out_of_range",
    ),
    (
        "581002,22423,REGENCY CAKESTAND 3 TIER,-2,2011-12-01 10:00:00,12.75,17850,United Kingdom",
        "out_of_range",
    ),
    (
        "C581003,22423,REGENCY CAKESTAND 3 TIER,2,2011-12-01 10:00:00,12.75,17850,United Kingdom",
        "out_of_range",
    ),
    (
        "581004,22423,REGENCY CAKESTAND 3 TIER,2,2010-13-45 25:00:00,12.75,17850,United Kingdom",
        "unparseable_timestamp",
    ),
    (
        "581005,22423,REGENCY CAKESTAND 3 TIER,six,2011-12-01 10:00:00,12.75,17850,United Kingdom",
        "unparseable_type",
    ),
    (
        "581006,22423,REGENCY CAKESTAND 3 TIER,2,2011-12-01 10:00:00,12.75,,United Kingdom",
        "missing_required",
    ),
    ("581007,22423,REGENCY CAKESTAND 3 TIER", "missing_required"),  # truncated
    (
        "581008,22423,CAKESTAND \xff TIER,2,2011-12-01 10:00:00,12.75,17850,United Kingdom",
        "bad_encoding",
    ),
    (
        "C581009,85123A,WHITE HANGING HEART T-LIGHT HOLDER,-6,2011-12-02 09:00:00,2.55,17850,"
        "United Kingdom",
        None,
    ),  # a return of the first purchase
]


def _retail_events(path) -> pd.DataFrame:
    """Online Retail lines as raw contract events, through the source's own mapping."""
    return to_contract(read_file(path))


@pytest.mark.mirror
def test_corrupted_online_retail_lines_are_quarantined_or_returned(tmp_path, mirror):
    import gzip

    with gzip.open(mirror / "online-retail" / "online_retail.csv.gz", "rb") as handle:
        clean = [next(handle).rstrip(b"\n") for _ in range(61)]
    extra = [line.encode("latin-1") for line, _ in RETAIL_EXTRA]
    path = tmp_path / "retail.csv"
    path.write_bytes(b"\n".join(clean + [clean[1]] + extra) + b"\n")  # clean[1] repeated
    events = _retail_events(path)
    settings = ingest.default_settings("online-retail", pseudonym_key=KEY)
    curation = curate({"events": events}, settings)
    reasons = assert_every_row_in_one_place(events, curation)
    first_extra = len(clean)  # clean has the header, so its data rows end one before
    expected = {
        f"ol{first_extra + i}": reason for i, (_, reason) in enumerate(RETAIL_EXTRA) if reason
    }
    assert reasons == expected
    assert curation.counts["events_duplicates"] == 0  # a repeated line is a repeat purchase
    curated = curation.tables["events"].set_index("event_id")
    returned = curated.loc[f"ol{first_extra + len(RETAIL_EXTRA) - 1}"]
    assert returned["event_type"] == "return"
    purchase = curated.loc[returned["return_of"]]  # the latest earlier purchase of the item
    assert (purchase["event_type"], purchase["item_id"]) == ("purchase", "85123A")
    assert purchase["user_id"] == returned["user_id"]
    later = curated[
        (curated["item_id"] == "85123A")
        & (curated["event_type"] == "purchase")
        & (curated["timestamp"] > purchase["timestamp"])
    ]
    assert later.empty
    first_invoice = curated["session_id"].iloc[0]  # invoices are sessions, under keyed pseudonyms
    assert first_invoice != "536365" and (curated["session_id"].iloc[:7] == first_invoice).all()
    assert curated["revenue"].iloc[0] == pytest.approx(6 * 2.55)  # quantity x unit price
    assert returned["revenue"] == pytest.approx(-6 * 2.55)
    assert curated["timestamp"].iloc[0] == pd.Timestamp("2010-12-01 08:26", tz="UTC")


def _invoice_lines() -> pd.DataFrame:
    """A purchase and a cancellation with a (wrong) positive quantity, as published."""
    header = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"
    lines = [
        "536365,85123A,HEART HOLDER,6,2010-12-01 08:26:00,2.55,17850,United Kingdom",
        "C536379,85123A,HEART HOLDER,1,2010-12-01 09:41:00,2.55,17850,United Kingdom",
    ]
    rows = [line.split(",") for line in lines]
    return to_contract(pd.DataFrame(rows, columns=header.split(",")))


def test_invoice_rules_run_because_the_source_declares_them_not_for_its_columns():
    events = _invoice_lines()
    declared = curate(
        {"events": events}, ingest.default_settings("online-retail", pseudonym_key=KEY)
    )
    assert declared.quarantine[["row", "reason", "column"]].values.tolist() == [
        [1, "out_of_range", "value"]  # a cancellation must have a negative quantity
    ]
    purchase = declared.tables["events"].iloc[0]
    assert purchase["session_id"] != "536365" and purchase["revenue"] == pytest.approx(6 * 2.55)
    assert (declared.counts["invoices_raw"], declared.counts["countries_raw"]) == (2, 1)

    plain = curate({"events": events}, CurationSettings(pseudonym_key=KEY))  # no source rules
    assert "invoices_raw" not in plain.counts
    assert "out_of_range" not in set(plain.quarantine["reason"])
    assert plain.tables["events"]["revenue"].isna().all()


def test_whole_input_problems_stop_the_run_naming_file_and_column(tmp_path):
    events = generate(n_users=20, n_days=3)["events"].drop(columns=["timestamp"])
    events.attrs["source_file"] = str(tmp_path / "events.csv")
    with pytest.raises(InputError, match=r"events\.csv.*timestamp"):
        curate({"events": events}, CurationSettings(pseudonym_key=KEY))


def test_withdrawing_consent_removes_the_user_from_the_next_training_data(tmp_path):
    raw = generate(n_users=60, n_items=40, n_days=7, withdrawal_rate=0.0, seed=3)
    folder = tmp_path / "site"
    settings = CurationSettings(pseudonym_key=KEY)
    incremental.update(folder, raw, settings, source="synthetic")
    users = store.read_table(folder, "users")
    target = raw["events"]["user_id"].iloc[0]
    pseudonym = privacy.pseudonym(target, KEY)
    assert users.set_index("user_id").loc[pseudonym, "personalization_allowed"]
    events = store.read_table(folder, "events")
    assert pseudonym in set(privacy.training_events(events, users)["user_id"])

    later = raw["events"]["timestamp"].max() + pd.Timedelta(hours=1)
    new_event = raw["events"].iloc[[0]].assign(event_id="late-1", timestamp=later)
    withdrawal = pd.DataFrame(
        {
            "user_id": [target],
            "purpose": ["personalization"],
            "granted": [False],
            "timestamp": [later],
        }
    )
    incremental.update(
        folder, {"events": new_event, "consent": withdrawal}, settings, source="synthetic"
    )
    users = store.read_table(folder, "users")
    events = store.read_table(folder, "events")
    assert not users.set_index("user_id").loc[pseudonym, "personalization_allowed"]
    training = privacy.training_events(events, users)
    assert pseudonym not in set(training["user_id"])
    assert pseudonym in set(events["user_id"])  # history kept for analytics
    assert len(training) < len(events)


FIRST = [
    "Amelia",
    "Bruno",
    "Chiara",
    "Dmitri",
    "Esther",
    "Farid",
    "Greta",
    "Hiroshi",
    "Ingrid",
    "Jonas",
    "Kofi",
    "Leila",
    "Mateo",
    "Nadia",
    "Oskar",
    "Priya",
    "Quentin",
    "Rosa",
    "Soren",
    "Tamsin",
    "Umar",
    "Vera",
    "Wen",
    "Ximena",
    "Yusuf",
    "Zofia",
]
LAST = [
    "Abbott",
    "Bianchi",
    "Castillo",
    "Dubois",
    "Eriksen",
    "Fischer",
    "Gallagher",
    "Haddad",
    "Ivanova",
    "Jansen",
    "Kowalski",
    "Lindqvist",
    "Moreau",
    "Nakamura",
    "Okafor",
    "Petrov",
    "Quigley",
    "Rossi",
    "Schmidt",
    "Tanaka",
    "Urquhart",
    "Varga",
    "Weber",
    "Xu",
    "Yilmaz",
    "Zimmermann",
    "Ahmed",
    "Brennan",
    "Costa",
    "Delgado",
    "Engel",
]


def _site_with_people(n_users: int = 40):
    """A synthetic site whose users have names and e-mails, and one item leaking an e-mail."""
    raw = generate(n_users=n_users, n_items=30, n_days=5, seed=5)
    users = raw["users"]
    people = [(FIRST[i % len(FIRST)], LAST[(i * 7) % len(LAST)], i) for i in range(len(users))]
    users["name"] = [f"{first} {last}" for first, last, _ in people]
    users["email"] = [f"{first[0]}{last}{i}@shop-example.com".lower() for first, last, i in people]
    raw["items"].loc[0, "text"] = "Questions? write to help.desk@shop-example.com"
    raw["events"].loc[0, "item_id"] = "no-such-item"  # one quarantined row with a raw user
    return raw


def test_nothing_written_to_disk_or_mlflow_holds_a_raw_identifier_or_email(tmp_path, tracking_uri):
    raw = _site_with_people()
    folder = tmp_path / "curated" / "site"
    result = incremental.update(folder, raw, CurationSettings(pseudonym_key=KEY), "synthetic")
    curation = result.curation
    assert curation.counts["events_reason_unknown_item"] == 1
    identifiers = set(raw["users"]["user_id"]) | set(raw["users"]["name"])
    experiment = mlflow.create_experiment("scan", artifact_location=str(tmp_path / "artifacts"))
    with mlflow.start_run(experiment_id=experiment) as run:
        mlflow.log_metrics({k: float(v) for k, v in curation.counts.items()})
        for name, figure in report.quality_report(curation).items():
            mlflow.log_figure(figure, f"{name}.png")
        mlflow.log_table(report.quarantine_summary(curation.quarantine), "quarantine.json")
    assert scan_folder(folder, identifiers, min_length=4).empty
    assert scan_folder(tmp_path / "artifacts", identifiers, min_length=4).empty
    assert scan_mlflow_run(mlflow.MlflowClient(), run.info.run_id, identifiers).empty
    assert "[email]" in store.read_table(folder, "items")["text"].iloc[0]


def test_the_scan_would_catch_a_leak(tmp_path):
    raw = _site_with_people()
    folder = tmp_path / "leaky"
    store.write_tables(folder, {"users": raw["users"][["user_id", "email"]]})
    findings = scan_folder(folder, set(raw["users"]["user_id"]))
    assert {"identifier", "email"} <= set(findings["kind"])


def test_one_person_under_two_ids_is_merged_and_their_events_follow(tmp_path):
    raw = _site_with_people(n_users=30)
    users = raw["users"]
    who = int(np.flatnonzero(users["user_id"] == raw["events"]["user_id"].iloc[1])[0])
    first, last = users["name"].iloc[who].split()
    twin = users.iloc[[who]].assign(user_id="twin-3", name=f"{last.upper()}, {first}")
    raw["users"] = pd.concat([users, twin], ignore_index=True)
    extra = raw["events"].iloc[[1]].assign(event_id="twin-event", user_id="twin-3")
    extra["timestamp"] += pd.Timedelta(hours=1)
    raw["events"] = pd.concat([raw["events"], extra], ignore_index=True)
    curation = curate(raw, CurationSettings(pseudonym_key=KEY))
    merges = curation.tables["user_merges"]
    kept, merged = sorted([users["user_id"].iloc[who], "twin-3"])  # the smallest id is kept
    assert merges[["user_id", "merged_into"]].values.tolist() == [
        [privacy.pseudonym(merged, KEY), privacy.pseudonym(kept, KEY)]
    ]
    events = curation.tables["events"].set_index("event_id")
    assert events.loc["twin-event", "user_id"] == privacy.pseudonym(kept, KEY)
    own = raw["events"].loc[raw["events"]["user_id"] == users["user_id"].iloc[who], "event_id"]
    own = own[own.isin(events.index)]
    assert len(own) and (events.loc[own, "user_id"] == privacy.pseudonym(kept, KEY)).all()
    assert curation.counts["users_duplicates"] == 1
    assert len(curation.tables["users"]) == len(users)
