"""Canary releases: the split follows the flags file, flags and aliases change live, and the
guard rolls a worse challenger back (and records it in the log and the registry)."""

from __future__ import annotations

import pytest
import yaml
from fastapi.testclient import TestClient
from mlflow.tracking import MlflowClient

from workbench.publish.gate import ROLLED_BACK_TAG, alias_history
from workbench.serving import create_app, read_log
from workbench.serving.settings import assign_variant

pytestmark = pytest.mark.slow  # the session's project trains and registers models (~25 s)

USERS = [f"visitor-{i}" for i in range(200)]


def write_flags(path, share: float, **extra) -> None:
    path.write_text(yaml.safe_dump({"challenger_share": share, "salt": "test", **extra}))


def variants(client, users) -> dict[str, str]:
    return {u: client.post("/rank", json={"user_id": u, "k": 3}).json()["variant"] for u in users}


def test_split_follows_the_flags_and_changes_live(service_factory, tmp_path):
    flags = tmp_path / "flags.yaml"
    write_flags(flags, 0.3)
    service = service_factory(flags)
    with TestClient(create_app(service, refresh_seconds=None)) as client:
        served = variants(client, USERS)
        # the hash is of the pseudonym: what the service keeps of the site's id
        assert served == {u: assign_variant(service.pseudonymize(u), 0.3, "test") for u in USERS}
        assert 40 <= sum(v == "challenger" for v in served.values()) <= 80  # 60 expected
        write_flags(flags, 1.0)
        service.refresh()  # what the background thread does every refresh_seconds
        assert set(variants(client, USERS[:20]).values()) == {"challenger"}
        flags.write_text("challenger_share: 2.5\n")  # invalid: the flags in force stay
        service.refresh()
        assert service.flags.challenger_share == 1.0
        write_flags(flags, 0.0)
        service.refresh()
        assert set(variants(client, USERS[:20]).values()) == {"champion"}
        logged = [r["variant"] for r in read_log(service.log.path) if r["kind"] == "decision"]
        assert logged.count("challenger") == sum(v == "challenger" for v in served.values()) + 20


def test_alias_moves_are_followed_without_restart(service_factory, project):
    service = service_factory()
    registry = MlflowClient()
    with TestClient(create_app(service, refresh_seconds=None)) as client:
        before = client.post("/rank", json={"user_id": "someone"}).json()
        assert before["model_versions"]["served"] == "1"
        registry.set_registered_model_alias("synthetic-recommender", "champion", "2")
        try:
            service.refresh()
            after = client.post("/rank", json={"user_id": "someone"}).json()
        finally:
            registry.set_registered_model_alias("synthetic-recommender", "champion", "1")
            registry.set_registered_model_alias("synthetic-recommender", "challenger", "2")
        assert after["model_versions"]["served"] == "2"
        service.refresh()
        assert client.post("/rank", json={"user_id": "x"}).json()["model_versions"]["served"] == "1"


def test_guard_rolls_back_a_challenger_with_lower_rewards(service_factory, tmp_path):
    flags = tmp_path / "flags.yaml"
    guard = {"min_decisions": 20, "reward_margin": 0.2}
    write_flags(flags, 0.5, guard=guard)
    service = service_factory(flags)
    with TestClient(create_app(service, refresh_seconds=None)) as client:
        for user in USERS[:100]:
            decision = client.post("/rank", json={"user_id": user, "k": 3}).json()
            reward = 1.0 if decision["variant"] == "champion" else 0.0  # the challenger is worse
            client.post(f"/events/{decision['event_id']}/reward", json={"reward": reward})
        service.refresh()
        health = client.get("/health").json()
        assert health["rolled_back"] == ["2"]
        assert set(variants(client, USERS[:40]).values()) == {"champion"}
        assert "workbench_rollbacks_total 1.0" in client.get("/metrics").text
    [rollback] = [r for r in read_log(service.log.path) if r["kind"] == "rollback"]
    assert rollback["version"] == "2" and "mean reward 0.000 under" in rollback["reason"]
    assert rollback["registry_recorded"] and rollback["figures"]["challenger_mean_reward"] == 0.0
    registry = MlflowClient()
    try:  # the registry shows it: the challenger tagged, nothing moved, the history says why
        name = "synthetic-recommender"
        version = registry.get_model_version(name, "2")
        assert version.tags["workbench.rollback_reason"] == rollback["reason"]
        assert ROLLED_BACK_TAG in version.tags
        assert str(registry.get_model_version_by_alias(name, "champion").version) == "1"
        assert str(registry.get_model_version_by_alias(name, "challenger").version) == "2"
        entry = alias_history(name)[-1]
        assert (entry["event"], entry["alias"], entry["version"]) == ("rollback", "challenger", "2")
        assert rollback["reason"] in entry["reason"] and entry["figures"] == rollback["figures"]
        later = service_factory(flags)  # a service started later gives v2 no traffic either
        assert later.guard.rolled_back == {"2"}
        with TestClient(create_app(later, refresh_seconds=None)) as client:
            assert set(variants(client, USERS[:40]).values()) == {"champion"}
    finally:
        registry.delete_model_version_tag("synthetic-recommender", "2", ROLLED_BACK_TAG)
