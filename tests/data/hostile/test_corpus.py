"""The hostile corpus: every case, its exit code, reconciliation, an intact previous version
after a failure, and no planted personal value anywhere that was written."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from helpers.pii_scan import scan_folder, scan_planted

from workbench.data import ingest, privacy, store
from workbench.data.errors import IngestFailed
from workbench.data.quality import PARTS

from .corpus import CASES, EMAIL, Case, contract_events, real_lines

KEY = b"hostile-key"


@pytest.fixture(scope="module")
def events(mirror) -> pd.DataFrame:
    return contract_events(real_lines(mirror))


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def _baseline(events: pd.DataFrame, root: Path) -> Path:
    """A good curated version, written first, that a failure must leave byte-identical."""
    source = root / "good"
    source.mkdir()
    events.to_csv(source / "events.csv", index=False)
    folder = root / "curated" / "shop"
    ingest.ingest(
        "files",
        folder,
        root / "raw",
        options={"events": str(source / "events.csv")},
        settings=ingest.default_settings("files", pseudonym_key=KEY),
    )
    return folder


def run_case(case: Case, events: pd.DataFrame, root: Path) -> tuple[int, str, dict | None]:
    """Ingest one case over a good version, the way the pipeline does; the exit code and the
    error text (what a run folder and MLflow would store)."""
    folder = _baseline(events, root)
    before = _snapshot(root / "curated")
    inputs = root / "inputs"
    inputs.mkdir()
    options = {**case.build(events.copy(), inputs), "base_dir": str(inputs), **case.options}
    try:
        result = ingest.ingest(
            "files",
            folder,
            root / "raw",
            options=options,
            settings=ingest.default_settings("files", pseudonym_key=KEY),
        )
    except IngestFailed as error:
        message = str(error)
        assert "nothing was written" in message
        assert _snapshot(root / "curated") == before, "the previous version changed"
        (root / "run.log").write_text(message)  # as a run folder would keep it
        return 1, message, None
    counts = result.curation.counts
    for table in ("events", "users", "items", "consent"):
        if f"{table}_in" in counts:
            parts = sum(counts.get(f"{table}_{part}", 0) for part in PARTS)
            assert counts[f"{table}_in"] == parts, (table, counts)
    tables = {name: store.read_table(folder, name) for name in ("events", "quarantine", "users")}
    return 0, "", {**tables, "counts": counts}


def _check(case: Case, events: pd.DataFrame, root: Path) -> None:
    code, message, result = run_case(case, events, root)
    assert code == case.exit_code, message
    if result is not None and case.check is not None:
        case.check(result)
    planted = {*case.planted, EMAIL}
    assert scan_planted([root / "curated", *root.glob("run.log")], planted).empty
    raw_users = set(events["user_id"])
    assert scan_folder(root / "curated", raw_users, min_length=5).empty
    assert not any(user in message for user in raw_users)


@pytest.mark.mirror
@pytest.mark.parametrize("case", [c for c in CASES if c.fast], ids=lambda c: c.name)
def test_fast_cases(case, events, tmp_path):
    _check(case, events, tmp_path)


@pytest.mark.slow
@pytest.mark.mirror
@pytest.mark.parametrize("case", [c for c in CASES if not c.fast], ids=lambda c: c.name)
def test_slow_cases(case, events, tmp_path):
    _check(case, events, tmp_path)


@pytest.mark.mirror
def test_float_and_integer_ids_are_one_user_and_forget_finds_them(events, tmp_path):
    folder = _baseline(events, tmp_path)
    user = events["user_id"].iloc[0]
    result = privacy.forget_command(f"{user}.0", folder.parent, KEY)
    assert result["shop"]["rows_removed"]["events"] == int((events["user_id"] == user).sum())
    ledger = privacy.read_ledger(folder.parent / privacy.ERASURE_LEDGER)
    assert privacy.pseudonym(user, KEY) in ledger
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["version"] == 2
