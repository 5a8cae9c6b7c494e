"""The service's decision log (``workbench serve``) as a ``bandit_logs`` contract table.

Each decision is a round: the shown item is the ``action`` (its index in ``actions``, the
action catalogue), ``propensity`` its logged probability, ``reward`` the reward that arrived
for it (``missing_reward`` when none did), ``position`` 0 (one slot). The context's fields
become ``context_<name>`` columns; ``variant``, ``served_version`` and ``timestamp`` are kept.

The same rules as every source: every decision ends curated, quarantined (reason code, column
and value) or dropped as a duplicate, and the counts reconcile; strings are redacted. Rewards
of unknown decisions are counted (``orphan_rewards``); an incomplete last line (a crash
mid-write, never acknowledged) is skipped.

User ids: the log holds pseudonyms already. The service pseudonymizes the site's ids at its
door with the project's key (:mod:`workbench.serving.identity`), the key ingestion uses, so the
logged ids are kept as they are and join with the curated ``users`` and ``events``.
Pseudonymizing them again would break that join. An id that is not shaped like a pseudonym
(a log written by something else) is not trusted: it is left out (null) and counted
(``user_ids_dropped``).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from workbench.data.contract import validate_table
from workbench.data.privacy import PSEUDONYM_LENGTH
from workbench.data.quality import Verdicts, quarantine_records, reconcile
from workbench.data.redaction import redact_text

log = logging.getLogger(__name__)

TABLE = "bandit_logs"
PSEUDONYM = rf"[0-9a-f]{{{PSEUDONYM_LENGTH}}}"


def read_records(path: Path) -> list[dict]:
    """Every complete JSON line of the log at ``path``, in order.

    An incomplete last line (cut by a crash mid-write) is skipped; an unreadable line elsewhere
    is an error naming its number.
    """
    path = Path(path)
    lines = path.read_bytes().split(b"\n") if path.is_file() else []
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            if number == len(lines):
                log.warning("%s: incomplete last line %d skipped", path, number)
                continue
            raise ValueError(f"{path}: line {number} is not a JSON record") from None
    return records


def _rounds(records: list[dict], missing_reward: float | None) -> pd.DataFrame:
    """One row per decision, with its first reward (later different ones are conflicts)."""
    decisions = [r for r in records if r.get("kind") == "decision"]
    rewards: dict[str, float] = {}
    for record in records:
        if record.get("kind") == "reward":
            rewards.setdefault(str(record.get("event_id")), record.get("reward"))
    frame = pd.DataFrame(
        {
            "event_id": [str(r.get("event_id")) for r in decisions],
            "timestamp": [r.get("timestamp") for r in decisions],
            "user_id": [r.get("user_id") for r in decisions],
            "item_id": [r.get("shown") for r in decisions],
            "rank": [r.get("position") for r in decisions],
            "propensity": [r.get("propensity") for r in decisions],
            "variant": [r.get("variant") for r in decisions],
            "served_version": [(r.get("model_versions") or {}).get("served") for r in decisions],
        }
    )
    frame["reward"] = frame["event_id"].map(rewards)
    if missing_reward is not None:
        frame["reward"] = frame["reward"].fillna(missing_reward)
    context = pd.json_normalize([r.get("context") or {} for r in decisions])
    context.columns = [f"context_{name}" for name in context.columns]
    return pd.concat([frame, context.reset_index(drop=True)], axis=1)


def _verdicts(frame: pd.DataFrame, actions: list[str]) -> Verdicts:
    verdicts = Verdicts.empty(len(frame))
    verdicts.flag(frame["item_id"].isna(), "missing_required", "item_id")
    verdicts.flag(frame["reward"].isna(), "missing_required", "reward")
    propensity = pd.to_numeric(frame["propensity"], errors="coerce")
    reward = pd.to_numeric(frame["reward"], errors="coerce")
    verdicts.flag(~np.isfinite(propensity) | ~np.isfinite(reward), "non_finite", "propensity")
    verdicts.flag(~((propensity > 0) & (propensity <= 1)), "out_of_range", "propensity")
    verdicts.flag(~frame["item_id"].isin(actions), "unknown_item", "item_id")
    return verdicts


def load(
    raw_dir: Path | None = None,
    mirror: Path | None = None,
    path: str | Path = "",
    actions: list[str] | None = None,
    missing_reward: float | None = 0.0,
) -> dict[str, pd.DataFrame]:
    """Curate a decision log into ``bandit_logs``.

    Parameters
    ----------
    raw_dir, mirror : Path, optional
        Unused (the log is a local file); here for the source signature.
    path : str or Path
        The decision log (JSON lines).
    actions : list of str, optional
        The action catalogue (item ids); ``action`` is an index into it. The shown items, in
        order of first appearance, when omitted; decisions showing another item are
        quarantined (``unknown_item``).
    missing_reward : float or None
        Reward of a decision without one (0: no click); None quarantines them.

    Returns
    -------
    dict of str to DataFrame
        ``bandit_logs`` (contract columns, ``item_id``, ``event_id``, ``timestamp``,
        ``variant``, ``served_version``, ``context_*``, ``user_id``: the logged pseudonym),
        ``quarantine`` and ``counts``.
    """
    records = read_records(Path(path))
    frame = _rounds(records, missing_reward)
    duplicate = frame["event_id"].duplicated().to_numpy()
    if actions is None:
        actions = list(pd.unique(frame["item_id"].dropna().astype(str)))
    orphans = _orphan_rewards(records, set(frame["event_id"]))
    verdicts = _verdicts(frame, list(actions))
    verdicts.reason[duplicate] = 0
    frame, dropped_ids = _sanitize(frame)
    quarantine = quarantine_records(frame, verdicts, TABLE, drop=duplicate)
    keep = ~verdicts.rejected & ~duplicate
    counts = {
        f"{TABLE}_in": len(frame),
        f"{TABLE}_curated": int(keep.sum()),
        f"{TABLE}_quarantined": len(quarantine),
        f"{TABLE}_duplicates": int(duplicate.sum()),
    }
    reconcile(counts, TABLE)
    logs = frame[keep].reset_index(drop=True)
    logs.insert(0, "round", np.arange(len(logs), dtype=np.int64))
    logs.insert(1, "action", pd.Index(actions).get_indexer(logs["item_id"]).astype(np.int64))
    logs.insert(2, "position", np.zeros(len(logs), dtype=np.int64))
    logs["reward"] = logs["reward"].astype(float)
    logs["propensity"] = logs["propensity"].astype(float)
    logs["timestamp"] = pd.to_datetime(logs["timestamp"], utc=True).astype("datetime64[us, UTC]")
    log.info("decisions %s: %s, %d orphan rewards", path, counts, orphans)
    return {
        TABLE: validate_table(logs, TABLE),
        "quarantine": quarantine,
        "counts": pd.Series({**counts, "orphan_rewards": orphans, "user_ids_dropped": dropped_ids}),
    }


def _orphan_rewards(records: list[dict], known: set[str]) -> int:
    return sum(
        1 for r in records if r.get("kind") == "reward" and str(r.get("event_id")) not in known
    )


def _sanitize(frame: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Logged pseudonyms kept (ids of another shape nulled), free-text strings redacted; the
    frame and the number of ids nulled."""
    frame = frame.copy()
    ids = frame["user_id"].astype("str")
    foreign = ids.notna() & ~ids.str.fullmatch(PSEUDONYM).fillna(False).astype(bool)
    if foreign.any():
        log.warning("%d logged user ids are not pseudonyms: left out", int(foreign.sum()))
    frame["user_id"] = ids.mask(foreign)
    for column in frame.columns:
        if column.startswith("context_") and not pd.api.types.is_numeric_dtype(frame[column]):
            frame[column] = redact_text(frame[column].astype("str"))
    return frame, int(foreign.sum())
