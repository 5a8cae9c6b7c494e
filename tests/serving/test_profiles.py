"""Real-time profiles: in process by default, in a real Redis (Debian's redis-server) when
``WORKBENCH_PROFILE_URL`` names one; a reward shows in the next ``/rank`` either way."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest
from conftest import free_port
from fastapi.testclient import TestClient

from workbench.serving import create_app
from workbench.serving.profiles import MemoryProfiles, RedisProfiles, make_profiles


def test_memory_profiles_keep_the_newest_items_first():
    profiles = MemoryProfiles(max_items=2)
    for item in ("a", "b", "a", "c"):
        profiles.add("u", item)
    assert profiles.recent("u") == ["c", "a"] and profiles.recent("other") == []


def test_only_redis_urls_are_accepted():
    assert isinstance(make_profiles(None), MemoryProfiles)
    with pytest.raises(ValueError, match="redis://"):
        make_profiles("http://127.0.0.1:6379")


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    """A real redis-server on a free loopback port, for this module."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server not installed (Debian package redis-server)")
    port = free_port()
    folder = tmp_path_factory.mktemp("redis")
    server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 20
    while True:
        try:
            RedisProfiles(url).ping()
            break
        except Exception:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise
            time.sleep(0.1)
    yield url
    server.terminate()
    server.wait(timeout=10)


def test_redis_profiles_are_shared_and_bounded(redis_url):
    first, second = RedisProfiles(redis_url, max_items=3), RedisProfiles(redis_url, max_items=3)
    for item in ("a", "b", "c", "a", "d"):
        first.add("shared-user", item)
    assert second.recent("shared-user") == ["d", "a", "c"]


@pytest.mark.slow
def test_a_reward_reaches_the_next_rank_through_redis(service_factory, project, redis_url):
    user = project.consenting[5]
    service = service_factory(profile_url=redis_url)
    assert isinstance(service.profiles, RedisProfiles)
    with TestClient(create_app(service, refresh_seconds=None)) as client:
        decision = client.post("/rank", json={"user_id": user, "k": 5}).json()
        client.post(f"/events/{decision['event_id']}/reward", json={"reward": 1.0})
        pseudonym = service.pseudonymize(user)  # profiles are kept by pseudonym only
        assert RedisProfiles(redis_url).recent(pseudonym) == [decision["shown"]]
        later = client.post("/rank", json={"user_id": user, "k": 5}).json()
    assert decision["shown"] not in {item["item_id"] for item in later["ranking"]}
    other = service_factory(profile_url=redis_url)  # another process sharing the profiles
    assert other.profiles.recent(pseudonym) == [decision["shown"]]
    keys = RedisProfiles(redis_url).client.keys(RedisProfiles.PREFIX + "*")
    assert not {key.removeprefix(RedisProfiles.PREFIX) for key in keys} & set(project.raw_ids)
