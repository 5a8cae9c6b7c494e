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
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from workbench.data import store
from workbench.data.errors import UnknownUserError
from workbench.data.redaction import (
    EMAIL_PATTERN,
    IPV4_PATTERN,
    IPV6_PATTERN,
    PHONE_PATTERN,
    holds_personal_data,
    redact_lists,
    redact_text,
    redact_value,
)
from workbench.data.standardize import canonical_ids, map_distinct, map_distinct_array

log = logging.getLogger(__name__)

PSEUDONYM_LENGTH = 20
PURPOSES = ("personalization", "analytics")
ERASURES = "erasures"
PII_COLUMNS = ("name", "email", "address", "phone", "zip", "ip", "ip_address", "postcode")
"""Columns that hold direct identifiers: never curated, never in quarantine records."""
ERASURE_LEDGER = "erasures.parquet"
"""Beside the data sets (``data/curated/erasures.parquet``): every erased pseudonym, which served
models read so that they never answer an erased user personally."""

__all__ = [
    "EMAIL_PATTERN",
    "IPV4_PATTERN",
    "IPV6_PATTERN",
    "PHONE_PATTERN",
    "holds_personal_data",
    "redact_lists",
    "redact_text",
    "redact_value",
]


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


def keyed_ids(values: pd.Series, key: bytes, prefix: str) -> pd.Series:
    """Keyed pseudonyms of other identifiers (sessions, event ids), vectorized (shape (n,)).

    SipHash-2-4 (``pandas.util.hash_array``) keyed by a sub-key derived from ``key``: stable
    for one key, not reversible without it, and fast enough for millions of distinct ids.
    ``prefix`` keeps the namespaces apart (``"s"`` for sessions). Nulls stay null.
    """
    sub_key = hmac.digest(key, f"workbench:{prefix}".encode(), "sha256")[:16]
    hash_key = "".join(chr(b & 0x7F) for b in sub_key)

    def hashed(uniques: np.ndarray) -> list[str]:
        digests = pd.util.hash_array(uniques, hash_key=hash_key)
        hexed = digests.astype(">u8").tobytes().hex()
        return [prefix + hexed[i : i + 16] for i in range(0, len(hexed), 16)]

    return map_distinct_array(values, hashed)


_EMAIL_IN_ID = r"[^\s@]+@[^\s@]+\.[A-Za-z]{2,}"
_ID_TOKENS = (
    (pc.ascii_is_decimal, r"[^0-9]+"),  # a user id of digits: runs of digits
    (pc.ascii_is_alnum, r"[^0-9A-Za-z]+"),  # of letters and digits: runs of those
)


def embeds_user_ids(ids: pd.Series, user_ids: pd.Series) -> bool:
    """Whether an id column was built from user ids or holds personal data.

    True when any row's id contains that row's (raw) user id, of at least three characters,
    as a run of digits or of letters and digits (``17850-2011-01-01``, ``cust17850_3``) or,
    for a user id that is neither (a phone number, ``cust-17850``), anywhere; or when any id
    holds an e-mail address.

    A user id of digits only can match a run of digits, and then matches a run of letters and
    digits only if it matches a run of digits; another one of letters and digits can match a
    run of letters and digits only. So each row is tokenized once, by the rule its user id
    allows, and only when its id is not a single run already (then it is its only token).
    """
    present = ids.notna().to_numpy(bool) & user_ids.notna().to_numpy(bool)
    if not present.any():
        return False
    text = _large_strings(ids[present])
    users = _large_strings(user_ids[present])
    long_enough = pc.greater_equal(pc.utf8_length(users), 3)
    claimed = pa.scalar(False)
    for is_run, separator in _ID_TOKENS:
        rows = pc.and_(pc.and_not(is_run(users), claimed), long_enough)
        claimed = pc.or_(claimed, is_run(users))
        if not pc.any(rows).as_py():
            continue
        owners, candidates = users.filter(rows), text.filter(rows)
        whole = is_run(candidates)
        if pc.any(pc.and_(whole, pc.equal(candidates, owners))).as_py():
            return True
        split = pc.invert(whole)
        tokens = pc.split_pattern_regex(candidates.filter(split), separator)
        flat = pc.list_flatten(tokens)
        owners = owners.filter(split).take(pc.list_parent_indices(tokens))
        if pc.any(pc.equal(flat, owners)).as_py():
            return True
    others = pc.and_not(long_enough, claimed).to_numpy(zero_copy_only=False)
    if others.any():  # user ids such as phone numbers: held anywhere in the id
        pairs = zip(text.filter(others).to_pylist(), users.filter(others).to_pylist(), strict=True)
        if any(user in value for value, user in pairs):
            return True
    at = pc.match_substring(text, "@")
    if not pc.any(at).as_py():
        return False
    return bool(pc.any(pc.match_substring_regex(text.filter(at), _EMAIL_IN_ID)).as_py())


def _large_strings(values: pd.Series) -> pa.Array:
    """A column as one Arrow ``large_string`` array."""
    arrow = pa.array(values.astype("str").array)
    if isinstance(arrow, pa.ChunkedArray):
        arrow = arrow.combine_chunks()
    return arrow if arrow.type == pa.large_string() else arrow.cast(pa.large_string())


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


USER_COLUMNS = ("user_id", "merged_into", "candidate_id")


def _erase_rows(frame: pd.DataFrame, erased: set[str]) -> pd.DataFrame:
    """``frame`` without rows whose user columns name an erased pseudonym."""
    keep = np.ones(len(frame), dtype=bool)
    for column in USER_COLUMNS:
        if column in frame.columns:
            keep &= ~frame[column].astype("str").isin(erased).to_numpy(bool)
    return frame[keep]


def _holds(tables: dict[str, pd.DataFrame], erased: set[str]) -> bool:
    return any(
        len(_erase_rows(frame, erased)) < len(frame)
        for name, frame in tables.items()
        if name != ERASURES
    )


def erasure_targets(pseudo: str, merges: pd.DataFrame | None) -> set[str]:
    """The pseudonym and every id merged with it (the same person under other ids)."""
    targets = {pseudo}
    if merges is not None and not merges.empty:
        linked = merges[(merges["user_id"] == pseudo) | (merges["merged_into"] == pseudo)]
        targets |= set(linked["user_id"]) | set(linked["merged_into"])
    return targets


def user_pseudonym(user_id: str, key: bytes) -> str:
    """The pseudonym of a raw id as curation makes it (``17850.0`` and ``17850`` agree)."""
    canonical = canonical_ids(pd.Series([str(user_id)], dtype="str"))[0].iloc[0]
    return pseudonym(canonical if isinstance(canonical, str) else str(user_id), key)


def _erased_tables(tables: dict, erased: set[str], derived: dict, record: pd.DataFrame):
    """The tables without the erased users; derived aggregates without a user column dropped
    (they counted the user and are recomputed by the next pipeline run)."""
    kept, removed, dropped = {}, {}, []
    for name, frame in tables.items():
        if name == ERASURES:
            continue
        if name in derived and not any(c in frame.columns for c in USER_COLUMNS):
            dropped.append(name)
            continue
        kept[name] = _erase_rows(frame, erased)
        removed[name] = len(frame) - len(kept[name])
    kept[ERASURES] = pd.concat([tables.get(ERASURES), record], ignore_index=True)
    return kept, removed, dropped


def forget(
    curated_dir: Path, user_id: str, key: bytes, when: datetime | None = None
) -> dict | None:
    """Erase a user from every kept version of a curated data set and record the erasure.

    Parameters
    ----------
    curated_dir : Path
        ``data/curated/<data set>``. A new version is written (a transaction); previous
        versions are rewritten without the user too, so a rollback cannot bring them back.
    user_id : str
        The user's raw (source) identifier.
    key : bytes
        The pseudonymization key the data set was curated with.
    when : datetime, optional
        Time of the erasure (now by default).

    Returns
    -------
    dict or None
        None when the data set holds no row of the user (nothing is written). Else
        ``pseudonym``, ``rows_removed`` per table, ``dropped_tables`` (derived aggregates),
        ``erased_at`` and ``digests``: every version digest that held the user.
    """
    folder = Path(curated_dir)
    manifest = store.read_manifest(folder)
    tables = {path.stem: _read_flat(path) for path in sorted(folder.glob("*.parquet"))}
    target = user_pseudonym(user_id, key)
    erased = erasure_targets(target, tables.get("user_merges"))
    history = [v for v in store.versions(folder) if not v["current"]]
    held_before = [v for v in history if _holds(_version_tables(v["path"]), erased)]
    if not _holds(tables, erased) and not held_before:
        return None
    erased_at = (when or datetime.now(UTC)).isoformat(timespec="seconds")
    record = pd.DataFrame({"user_id": sorted(erased), "erased_at": erased_at})
    derived = manifest.get("derived", {})
    kept, removed, dropped = _erased_tables(tables, erased, derived, record)
    extra = {
        k: v for k, v in manifest.items() if k not in ("tables", "digest", "written_at", "derived")
    }
    digests = [manifest["digest"], *(v["digest"] for v in held_before)]
    store.write_tables(folder, kept, extra={**extra, "erased_at": erased_at})
    for version in store.versions(folder):
        if not version["current"] and _holds(_version_tables(version["path"]), erased):
            old = _version_tables(version["path"])
            cleaned = _erased_tables(
                old, erased, store.read_manifest(version["path"]).get("derived", {}), record
            )[0]
            store.rewrite_in_place(version["path"], cleaned, store.read_manifest(version["path"]))
    log.info("erased user %s: %d rows from %s", target, sum(removed.values()), folder)
    return {
        "pseudonym": target,
        "erased": sorted(erased),
        "rows_removed": removed,
        "dropped_tables": dropped,
        "erased_at": erased_at,
        "digests": digests,
    }


def _version_tables(path: Path) -> dict[str, pd.DataFrame]:
    return {p.stem: _read_flat(p) for p in sorted(Path(path).glob("*.parquet"))}


def erased_pseudonyms(curated_dir: Path) -> frozenset[str]:
    """Pseudonyms erased from a curated data set (empty when it has no erasures)."""
    if not store.has_table(curated_dir, ERASURES):
        return frozenset()
    return frozenset(store.read_table(curated_dir, ERASURES, columns=["user_id"])["user_id"])


def read_ledger(path: Path) -> frozenset[str]:
    """Every pseudonym in an erasure ledger (empty when there is none)."""
    path = Path(path)
    if not path.is_file():
        return frozenset()
    return frozenset(pq.read_table(path, columns=["user_id"]).column("user_id").to_pylist())


def _append_ledger(path: Path, pseudonyms: Iterable[str], erased_at: str) -> None:
    record = pd.DataFrame({"user_id": sorted(set(pseudonyms)), "erased_at": erased_at})
    if path.is_file():
        record = pd.concat([pd.read_parquet(path), record], ignore_index=True)
    staging = path.with_name(f".{path.name}.tmp")
    record.to_parquet(staging, index=False)
    os.replace(staging, path)


def forget_command(
    user_id: str, curated_root: Path, key: bytes, datasets: Iterable[str] | None = None
) -> dict[str, dict]:
    """``workbench data forget USER``: erase ``user_id`` from the curated data sets holding it.

    Parameters
    ----------
    user_id : str
        The raw identifier, as the source knows the user.
    curated_root : Path
        ``data/curated``; its ``ERASURE_LEDGER`` gains the user's pseudonyms.
    key : bytes
        From ``workbench.config.pseudonym_key`` (the environment or the key file).
    datasets : iterable of str, optional
        Data set names; every curated data set when omitted.

    Returns
    -------
    dict of str to dict
        ``forget``'s summary for each data set that held the user (others are not touched).

    Raises
    ------
    UnknownUserError
        When no data set holds the user: nothing is written or recorded.
    """
    root = Path(curated_root)
    names = (
        list(datasets)
        if datasets
        else sorted(p.name for p in root.glob("*") if (p / store.MANIFEST).is_file())
    )
    results = {name: forget(root / name, user_id, key) for name in names}
    held = {name: result for name, result in results.items() if result is not None}
    if not held:
        raise UnknownUserError(
            f"user {user_id!r} is in no curated data set under {root} ({len(names)} searched); "
            f"nothing was erased"
        )
    erased = {p for r in held.values() for p in r["erased"]}
    _append_ledger(root / ERASURE_LEDGER, erased, next(iter(held.values()))["erased_at"])
    return held
