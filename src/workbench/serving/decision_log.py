"""The durable, append-only decision log: one JSON line per decision, reward or rollback.

A record is acknowledged (the HTTP answer is sent) only after its line is written and
``fsync``-ed, so a crash loses nothing that was acknowledged. Concurrent requests share one
``fsync`` (group commit). A crash in the middle of a write
leaves at most one incomplete last line, which was never acknowledged: opening the log again
cuts it off, and :func:`read_log` skips it. Rewards are idempotent: the same reward again is
acknowledged without a second line; a different reward for the same decision is a conflict.

Records (``kind``):

- ``decision``: ``event_id``, ``timestamp``, ``user_id``, ``context``, ``variant``,
  ``model_versions``, ``ranking`` (item ids, best first), ``probabilities`` (the full
  distribution over the ranking), ``scores``, ``shown``, ``position``, ``propensity``,
  ``personalized``, ``candidate_features`` (those the request sent), ``segments``,
  ``reasons``;
- ``reward``: ``event_id``, ``timestamp``, ``reward``;
- ``rollback``: ``timestamp``, ``version``, ``reason``.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from datetime import UTC, datetime
from pathlib import Path

from workbench.data.sources.decisions import read_records

log = logging.getLogger(__name__)


class RewardConflict(ValueError):
    """A second reward with another value for a decision already rewarded."""


def now() -> str:
    """The current UTC time in ISO 8601 with microseconds."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def read_log(path: Path) -> list[dict]:
    """Every complete record of the log at ``path``, in order (an incomplete last line is
    skipped; an unreadable line elsewhere is an error naming its number)."""
    return read_records(path)


class DecisionLog:
    """The log of one service process (one writer; records also held in memory by id).

    Parameters
    ----------
    path : Path
        Created with its folder when absent; an existing log is read and continued.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._cut_incomplete_tail()
        self._cond = threading.Condition()
        self._pending: list[bytes] = []
        self._appended = self._durable = 0  # sequence numbers of lines
        self._flushing = False
        self._broken: OSError | None = None
        self.decisions: dict[str, dict] = {}
        self.rewards: dict[str, tuple[float, int]] = {}  # reward and its line's sequence
        for record in read_log(self.path):
            self._remember(record, 0)
        self._file = open(self.path, "ab")  # noqa: SIM115 - held open for the process's life

    def _cut_incomplete_tail(self) -> None:
        if not self.path.is_file():
            return
        data = self.path.read_bytes()
        end = data.rfind(b"\n") + 1
        if end < len(data):
            log.warning(
                "%s: cutting an incomplete last record (%d bytes)", self.path, len(data) - end
            )
            with open(self.path, "r+b") as handle:
                handle.truncate(end)
                os.fsync(handle.fileno())

    def _remember(self, record: dict, sequence: int) -> None:
        if record.get("kind") == "decision":
            self.decisions[record["event_id"]] = {
                key: record.get(key) for key in ("variant", "user_id", "shown", "model_versions")
            }
        elif record.get("kind") == "reward":
            self.rewards[record["event_id"]] = (float(record["reward"]), sequence)

    def _append(self, record: dict) -> int:
        """Queue a line (the caller holds ``_cond``); its sequence number."""
        line = json.dumps(record, allow_nan=False, separators=(",", ":")).encode() + b"\n"
        self._pending.append(line)
        self._appended += 1
        return self._appended

    def _wait_durable(self, sequence: int) -> None:
        """Return once line ``sequence`` is on disk (the caller holds ``_cond``).

        Group commit: one waiting thread writes and fsyncs every queued line while the others
        wait, so concurrent requests share one fsync.
        """
        while self._durable < sequence:
            if self._broken is not None:
                raise OSError(f"{self.path}: the log could not be written: {self._broken}")
            if self._flushing:
                self._cond.wait()
                continue
            self._flushing = True
            batch, upto, self._pending = self._pending, self._appended, []
            self._cond.release()
            try:
                self._file.write(b"".join(batch))
                self._file.flush()
                os.fsync(self._file.fileno())
            except OSError as error:  # nothing queued is acknowledged from now on
                self._broken = error
                raise
            finally:
                self._cond.acquire()
                self._flushing = False
                self._cond.notify_all()
            self._durable = upto

    def append_decision(self, record: dict) -> None:
        """Write a decision durably (returns once it is on disk)."""
        record = {"kind": "decision", **record}
        with self._cond:
            sequence = self._append(record)
            self._wait_durable(sequence)
            self._remember(record, sequence)

    def append_reward(self, event_id: str, reward: float) -> tuple[dict, bool]:
        """Write the reward of decision ``event_id`` durably.

        Returns
        -------
        decision, created : dict and bool
            The decision rewarded, and False when the same reward was already logged (then
            after that earlier line is on disk).

        Raises
        ------
        KeyError
            For an unknown ``event_id``.
        RewardConflict
            For another reward of a decision already rewarded.
        """
        with self._cond:
            if event_id not in self.decisions:
                raise KeyError(event_id)
            if event_id in self.rewards:
                logged, sequence = self.rewards[event_id]
                if logged != float(reward):
                    raise RewardConflict(
                        f"event {event_id} already has reward {logged}, got {reward}"
                    )
                self._wait_durable(sequence)
                return self.decisions[event_id], False
            record = {"kind": "reward", "event_id": event_id, "timestamp": now(), "reward": reward}
            sequence = self._append(record)
            self._remember(record, sequence)  # a concurrent duplicate waits for this line
            self._wait_durable(sequence)
            return self.decisions[event_id], True

    def append_event(self, kind: str, **fields) -> None:
        """Write another kind of record (a rollback) durably."""
        with self._cond:
            self._wait_durable(self._append({"kind": kind, "timestamp": now(), **fields}))

    def close(self) -> None:
        with self._cond:
            self._wait_durable(self._appended)
            self._file.close()
