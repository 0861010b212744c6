"""Per-key rate limit: a fixed one-minute window counted in Redis (``INCR`` + ``EXPIRE NX``), or in this
process when Redis is not there.

The embedded default runs without Redis: its calls are counted in process (:class:`LocalWindowLimiter`), so
the default deployment is not free to hammer. With several API processes (gunicorn workers) each counts its
own calls, so a key gets up to ``limit x workers`` a minute there; Redis makes the limit exact. A Redis that
goes away is retried every :data:`REDIS_RETRY_S` seconds, the local count standing in meanwhile.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import redis

log = logging.getLogger(__name__)

KEY_FORMAT = "prism:ratelimit:{key}:{window}"
REDIS_RETRY_S = 30.0


def wall_clock() -> float:
    """The time the windows are counted in (tests set it to stay inside one window)."""
    return time.time()


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    retry_after_s: int


def _decision(count: int, limit: int, window: int, window_s: int, now: float) -> Decision:
    retry_after = max(1, int((window + 1) * window_s - now + 0.999))
    return Decision(count <= limit, limit, max(0, limit - count), retry_after)


class LocalWindowLimiter:
    """``limit`` calls per ``window_s`` per key, counted in this process (thread-safe). Counters of past
    windows are dropped once more than ``max_keys`` keys are held, so memory stays bounded."""

    def __init__(self, limit: int, window_s: int = 60, max_keys: int = 100_000):
        self.limit, self.window_s, self.max_keys = limit, window_s, max_keys
        self._counts: dict[str, tuple[int, int]] = {}     # key -> (window, calls in it)
        self._lock = threading.Lock()

    def hit(self, key: str, now: float | None = None) -> Decision:
        now = wall_clock() if now is None else now
        window = int(now // self.window_s)
        with self._lock:
            held, count = self._counts.get(key, (window, 0))
            count = count + 1 if held == window else 1
            self._counts[key] = (window, count)
            if len(self._counts) > self.max_keys:
                self._counts = {k: v for k, v in self._counts.items() if v[0] == window}
        return _decision(count, self.limit, window, self.window_s, now)


class FixedWindowLimiter:
    """``limit`` calls per ``window_s`` per key, counted in Redis; while Redis is unreachable, counted in this
    process (:class:`LocalWindowLimiter`, a warning logged once a minute) and Redis tried again every
    :data:`REDIS_RETRY_S` s: the limiter protects the service, it must neither take it down nor fail open."""

    def __init__(self, redis_url: str, limit: int, window_s: int = 60):
        self.client = redis.Redis.from_url(redis_url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self.limit = limit
        self.window_s = window_s
        self.local = LocalWindowLimiter(limit, window_s)
        self._warned_at = 0.0
        self._redis_retry_at = 0.0

    def hit(self, key: str, now: float | None = None) -> Decision:
        now = wall_clock() if now is None else now
        if time.monotonic() < self._redis_retry_at:
            return self.local.hit(key, now)
        window = int(now // self.window_s)
        name = KEY_FORMAT.format(key=key, window=window)
        try:
            pipe = self.client.pipeline(transaction=True)
            pipe.incr(name)
            pipe.expire(name, self.window_s + 1, nx=True)
            count, _ = pipe.execute()
        except redis.RedisError as exc:
            self._redis_retry_at = time.monotonic() + REDIS_RETRY_S
            if now - self._warned_at > 60:
                log.warning("rate limit counted in this process: Redis unavailable (%s)", exc)
                self._warned_at = now
            return self.local.hit(key, now)
        return _decision(int(count), self.limit, window, self.window_s, now)
