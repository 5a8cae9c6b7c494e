"""Real-time user profiles: the items each user recently engaged with, newest first.

The service adds an item when a reward arrives for it (a click, a purchase) and leaves the
user's recent items out of the next ranking. In-process by default; with a ``redis://`` URL the
profiles live in Redis and are shared by every service process.
"""

from __future__ import annotations

import threading
from collections import deque


class MemoryProfiles:
    """Profiles in this process's memory.

    Parameters
    ----------
    max_items : int
        Recent items kept per user.
    """

    def __init__(self, max_items: int = 20):
        self.max_items = max_items
        self._items: dict[str, deque] = {}
        self._lock = threading.Lock()

    def add(self, user_id: str, item_id: str) -> None:
        with self._lock:
            recent = self._items.setdefault(user_id, deque(maxlen=self.max_items))
            if item_id in recent:
                recent.remove(item_id)
            recent.appendleft(item_id)

    def recent(self, user_id: str) -> list[str]:
        with self._lock:
            return list(self._items.get(user_id, ()))

    def ping(self) -> bool:
        return True


class RedisProfiles:
    """Profiles in Redis: one list per user (``workbench:profile:<user>``), newest first.

    Parameters
    ----------
    url : str
        ``redis://host:port/db``.
    max_items : int
    ttl_seconds : int
        A profile nobody touches expires.
    """

    PREFIX = "workbench:profile:"

    def __init__(self, url: str, max_items: int = 20, ttl_seconds: int = 30 * 86400):
        import redis

        self.client = redis.Redis.from_url(url, socket_timeout=2, decode_responses=True)
        self.max_items = max_items
        self.ttl_seconds = ttl_seconds

    def add(self, user_id: str, item_id: str) -> None:
        key = self.PREFIX + user_id
        with self.client.pipeline() as pipe:
            pipe.lrem(key, 0, item_id).lpush(key, item_id).ltrim(key, 0, self.max_items - 1)
            pipe.expire(key, self.ttl_seconds).execute()

    def recent(self, user_id: str) -> list[str]:
        return list(self.client.lrange(self.PREFIX + user_id, 0, self.max_items - 1))

    def ping(self) -> bool:
        return bool(self.client.ping())


def make_profiles(url: str | None, max_items: int = 20) -> MemoryProfiles | RedisProfiles:
    """In-process profiles, or Redis ones when ``url`` starts with ``redis://``.

    Raises
    ------
    ValueError
        For a URL of another scheme.
    """
    if not url:
        return MemoryProfiles(max_items)
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError(f"WORKBENCH_PROFILE_URL must be redis://..., got {url!r}")
    return RedisProfiles(url, max_items)
