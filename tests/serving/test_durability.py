"""``workbench serve`` killed under load and started again: nothing acknowledged is lost."""

from __future__ import annotations

import threading
import time

import pytest
import yaml
from conftest import Server, call

from workbench.serving import read_log

pytestmark = pytest.mark.slow


def load(url: str, stop: threading.Event, acknowledged: dict, worker: int) -> None:
    """Rank and reward until stopped; remember what the service acknowledged."""
    round_ = 0
    while not stop.is_set():
        round_ += 1
        try:
            status, body = call(
                f"{url}/rank", {"user_id": f"load-{worker}-{round_}", "k": 3}, timeout=5
            )
            if status != 200:
                acknowledged["refused"].append((status, body))
                continue
            acknowledged["decisions"].add(body["event_id"])
            status, _ = call(f"{url}/events/{body['event_id']}/reward", {"reward": 1.0}, timeout=5)
            if status == 200:
                acknowledged["rewards"].add(body["event_id"])
        except OSError:  # the server was killed: stop
            return


def test_kill_during_load_then_restart_loses_nothing_acknowledged(project, tmp_path):
    log = tmp_path / "decisions.jsonl"
    flags = tmp_path / "flags.yaml"
    flags.write_text(yaml.safe_dump({"challenger_share": 0.0}))
    server = Server(project, log, flags).wait()
    acknowledged = {"decisions": set(), "rewards": set(), "refused": []}
    stop = threading.Event()
    workers = [
        threading.Thread(target=load, args=(server.url, stop, acknowledged, w)) for w in range(4)
    ]
    try:
        for worker in workers:
            worker.start()
        time.sleep(3.0)
        flags.write_text(yaml.safe_dump({"challenger_share": 1.0}))  # a live change under load
        time.sleep(1.5)
        server.kill()  # SIGKILL: no shutdown handler runs
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=30)
        server.kill()
    records = read_log(log)
    decisions = {r["event_id"]: r for r in records if r["kind"] == "decision"}
    rewards = {r["event_id"] for r in records if r["kind"] == "reward"}
    assert len(acknowledged["decisions"]) > 20
    assert acknowledged["refused"] == []  # no request dropped while the flags changed
    assert acknowledged["decisions"] <= decisions.keys()
    assert acknowledged["rewards"] <= rewards
    assert {r["variant"] for r in decisions.values()} == {"champion", "challenger"}  # live flags
    restarted = Server(project, log, flags).wait()
    try:
        event = sorted(acknowledged["rewards"])[0]
        status, body = call(f"{restarted.url}/events/{event}/reward", {"reward": 1.0})
        assert status == 200 and body["recorded"] is False  # known after the restart, idempotent
        assert call(f"{restarted.url}/events/unknown-id/reward", {"reward": 1.0})[0] == 404
        assert call(f"{restarted.url}/rank", {"user_id": "after-restart"})[0] == 200
    finally:
        restarted.stop()
    assert len(read_log(log)) == len(records) + 1
