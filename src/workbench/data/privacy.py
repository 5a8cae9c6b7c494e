"""Privacy: consent, keyed pseudonyms, allow-listed columns, redaction, and erasure.

- Consent is granular (``personalization``, ``analytics``); the latest record per user and
  purpose wins (a withdrawal wins a tie). Users without personalization consent keep their
  history for analytics but are flagged ``personalization_allowed = False``, and
  ``training_events`` leaves them out of every training set.
- User ids are replaced by HMAC-SHA256 pseudonyms: stable for one key, not reversible without
  it. The key is an argument; ``resolve_key`` (called only by ``config.pseudonym_key``, which
  notebooks and the CLI use) takes it from the environment's value or a git-ignored key file
  it creates once.
- ``forget`` erases a user from every table of a curated data set and records the erasure
  (by pseudonym) in an ``erasures`` table that later ingestions honour.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from workbench.data import store
from workbench.data.standardize import map_distinct

log = logging.getLogger(__name__)

PSEUDONYM_LENGTH = 20
PURPOSES = ("personalization", "analytics")
ERASURES = "erasures"
EMAIL_PATTERN = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
IPV4_PATTERN = (
    r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?![\d.])"
)
IPV6_PATTERN = r"(?<![\w:])(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}(?![\w:])"
PHONE_PATTERN = r"(?<![\w+])(?:\+|00)?\d(?:[ ().-]{0,2}\d){8,14}(?!\w)"
REDACTIONS = (
    (EMAIL_PATTERN, "[email]"),
    (IPV6_PATTERN, "[ip]"),
    (IPV4_PATTERN, "[ip]"),
    (PHONE_PATTERN, "[phone]"),
)
PII_COLUMNS = ("name", "email", "address", "phone", "zip", "ip", "ip_address", "postcode")
"""Columns that hold direct identifiers: never curated, masked in quarantine records."""


def generate_key() -> bytes:
    """A fresh random 32-byte pseudonymization key."""
    return secrets.token_bytes(32)


def resolve_key(env_value: str | None, key_file: Path) -> bytes:
    """The pseudonymization key: ``env_value`` when set, else ``key_file`` (created once).

    For ``workbench.config.pseudonym_key``, which passes
    ``os.environ.get("WORKBENCH_PSEUDONYM_KEY")`` and ``data/secrets/pseudonym.key``
    (git-ignored). The file holds the key in hex, mode 0600.
    """
    if env_value:
        return env_value.encode()
    key_file = Path(key_file)
    if key_file.is_file():
        return bytes.fromhex(key_file.read_text().strip())
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key = generate_key()
    descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(key.hex() + "\n")
    log.info("generated a new pseudonymization key in %s", key_file)
    return key


def pseudonym(value: str, key: bytes) -> str:
    """HMAC-SHA256 pseudonym of one identifier (hex, ``PSEUDONYM_LENGTH`` characters)."""
    digest = hmac.new(key, str(value).encode(), hashlib.sha256).hexdigest()
    return digest[:PSEUDONYM_LENGTH]


def pseudonymize(ids: pd.Series, key: bytes) -> pd.Series:
    """Pseudonyms of a column of identifiers, computed once per distinct id.

    Parameters
    ----------
    ids : Series of shape (n,)
    key : bytes

    Returns
    -------
    Series of shape (n,), dtype str
        Nulls stay null.
    """
    return map_distinct(ids, lambda value: pseudonym(value, key)).astype("str")


def redact_text(values: pd.Series) -> pd.Series:
    """Replace e-mail addresses, IP addresses and phone numbers in free text (shape (n,))."""
    text = values.astype("str")
    for pattern, replacement in REDACTIONS:
        text = text.str.replace(pattern, replacement, regex=True)
    return text


def allow_columns(frame: pd.DataFrame, allowed: Iterable[str], table: str) -> pd.DataFrame:
    """Keep only the allow-listed columns of ``frame`` (in allow-list order); log the rest."""
    allowed = list(allowed)
    dropped = [column for column in frame.columns if column not in allowed]
    if dropped:
        log.info("%s: columns not allow-listed, left out of the curated layer: %s", table, dropped)
    return frame[[column for column in allowed if column in frame.columns]]


def latest_consent(consent: pd.DataFrame) -> pd.DataFrame:
    """The record that holds per user and purpose: the latest; a withdrawal wins a tie.

    Parameters
    ----------
    consent : DataFrame
        Typed ``user_id``, ``purpose``, ``granted`` (bool), ``timestamp``.

    Returns
    -------
    DataFrame of shape (n_users * n_purposes at most, 4)
    """
    ordered = consent.sort_values(
        ["user_id", "purpose", "timestamp", "granted"],
        ascending=[True, True, True, False],
        kind="stable",
    )
    return ordered.drop_duplicates(["user_id", "purpose"], keep="last").reset_index(drop=True)


def consent_flags(
    user_ids: pd.Series, consent: pd.DataFrame | None, default: bool = True
) -> pd.DataFrame:
    """``personalization_allowed`` and ``analytics_allowed`` for each user.

    Parameters
    ----------
    user_ids : Series of shape (n_users,)
    consent : DataFrame or None
        Typed consent records; ``None`` when the source has none, then every user gets
        ``default`` (public research data sets whose publisher collected consent).
    default : bool

    Returns
    -------
    DataFrame of shape (n_users, 2), indexed like ``user_ids``
        A user without a record for a purpose, in a source that has consent, is not allowed.
    """
    flags = pd.DataFrame(index=user_ids.index)
    for purpose in PURPOSES:
        column = f"{purpose}_allowed"
        if consent is None:
            flags[column] = default
            continue
        latest = latest_consent(consent[consent["purpose"] == purpose])
        granted = pd.Series(latest["granted"].to_numpy(bool), index=latest["user_id"])
        flags[column] = user_ids.map(granted).astype("boolean").fillna(False).to_numpy(bool)
    return flags


def training_events(events: pd.DataFrame, users: pd.DataFrame) -> pd.DataFrame:
    """Events of users who allow personalization: what every training set must start from.

    Parameters
    ----------
    events : DataFrame of shape (n_events, ...)
    users : DataFrame
        Curated users with ``personalization_allowed``.

    Returns
    -------
    DataFrame of shape (n_allowed_events, ...)
        Events of unknown users are left out too.
    """
    if "personalization_allowed" not in users:
        raise KeyError("users lacks personalization_allowed: curate the data set again")
    allowed = users.loc[users["personalization_allowed"].astype(bool), "user_id"]
    keep = events["user_id"].isin(allowed).to_numpy(bool)
    log.info("training events: %d of %d (users without consent left out)", keep.sum(), len(keep))
    return events[keep]


def non_personalized_users(users: pd.DataFrame) -> pd.Series:
    """Ids of users who must get non-personalized results (shape (n,))."""
    return users.loc[~users["personalization_allowed"].astype(bool), "user_id"]


def _read_flat(path: Path) -> pd.DataFrame:
    """A parquet table with a named index (``user_id`` of a feature table) as a column."""
    frame = pq.read_table(path).to_pandas()
    return frame.reset_index() if frame.index.name else frame


def _erase_rows(frame: pd.DataFrame, erased: set[str]) -> pd.DataFrame:
    """``frame`` without rows whose user columns (or index) name an erased pseudonym."""
    keep = np.ones(len(frame), dtype=bool)
    for column in ("user_id", "merged_into"):
        if column in frame.columns:
            keep &= ~frame[column].astype("str").isin(erased).to_numpy(bool)
    return frame[keep]


def erasure_targets(pseudo: str, merges: pd.DataFrame | None) -> set[str]:
    """The pseudonym and every id merged with it (the same person under other ids)."""
    targets = {pseudo}
    if merges is not None and not merges.empty:
        linked = merges[(merges["user_id"] == pseudo) | (merges["merged_into"] == pseudo)]
        targets |= set(linked["user_id"]) | set(linked["merged_into"])
    return targets


def forget(curated_dir: Path, user_id: str, key: bytes, when: datetime | None = None) -> dict:
    """Erase a user from every table of a curated data set and record the erasure.

    Parameters
    ----------
    curated_dir : Path
        ``data/curated/<data set>``; rewritten atomically.
    user_id : str
        The user's raw (source) identifier.
    key : bytes
        The pseudonymization key the data set was curated with.
    when : datetime, optional
        Time of the erasure (now by default).

    Returns
    -------
    dict
        ``pseudonym``, ``rows_removed`` per table, ``erased_at``.
    """
    folder = Path(curated_dir)
    manifest = store.read_manifest(folder)
    tables = {path.stem: _read_flat(path) for path in sorted(folder.glob("*.parquet"))}
    target = pseudonym(user_id, key)
    erased = erasure_targets(target, tables.get("user_merges"))
    removed = {}
    for name, frame in tables.items():
        if name != ERASURES:
            tables[name] = _erase_rows(frame, erased)
            removed[name] = len(frame) - len(tables[name])
    erased_at = (when or datetime.now(UTC)).isoformat(timespec="seconds")
    record = pd.DataFrame(
        {
            "user_id": sorted(erased),
            "erased_at": erased_at,
            "rows_removed": int(sum(removed.values())),
        }
    )
    tables[ERASURES] = pd.concat([tables.get(ERASURES), record], ignore_index=True)
    extra = {k: v for k, v in manifest.items() if k not in ("tables", "digest", "written_at")}
    store.write_tables(folder, tables, extra=extra)
    log.info("erased user %s: %d rows from %s", target, sum(removed.values()), folder)
    return {"pseudonym": target, "rows_removed": removed, "erased_at": erased_at}


def erased_pseudonyms(curated_dir: Path) -> frozenset[str]:
    """Pseudonyms erased from a curated data set (empty when it has no erasures)."""
    if not store.has_table(curated_dir, ERASURES):
        return frozenset()
    return frozenset(store.read_table(curated_dir, ERASURES, columns=["user_id"])["user_id"])


def forget_command(
    user_id: str, curated_root: Path, key: bytes, datasets: Iterable[str] | None = None
) -> dict[str, dict]:
    """``workbench data forget USER``: erase ``user_id`` from curated data sets.

    Parameters
    ----------
    user_id : str
        The raw identifier, as the source knows the user.
    curated_root : Path
        ``data/curated``.
    key : bytes
        From ``workbench.config.pseudonym_key`` (the environment or the key file).
    datasets : iterable of str, optional
        Data set names; every curated data set when omitted.

    Returns
    -------
    dict of str to dict
        ``forget``'s summary per data set.
    """
    root = Path(curated_root)
    names = (
        list(datasets)
        if datasets
        else sorted(p.name for p in root.glob("*") if (p / store.MANIFEST).is_file())
    )
    return {name: forget(root / name, user_id, key) for name in names}
