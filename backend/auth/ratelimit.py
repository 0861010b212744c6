"""Per-key rate limit: a fixed one-minute window counted in Redis (``INCR`` + ``EXPIRE NX``)."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import redis

log = logging.getLogger(__name__)

KEY_FORMAT = "prism:ratelimit:{key}:{window}"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    retry_after_s: int


class FixedWindowLimiter:
    """``limit`` calls per ``window_s`` per key. When Redis is unreachable calls are let through
    (and a warning is logged): the limiter protects the service, it must not take it down."""

    def __init__(self, redis_url: str, limit: int, window_s: int = 60):
        self.client = redis.Redis.from_url(redis_url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self.limit = limit
        self.window_s = window_s
        self._warned_at = 0.0

    def hit(self, key: str, now: float | None = None) -> Decision:
        now = time.time() if now is None else now
        window = int(now // self.window_s)
        name = KEY_FORMAT.format(key=key, window=window)
        try:
            pipe = self.client.pipeline(transaction=True)
            pipe.incr(name)
            pipe.expire(name, self.window_s + 1, nx=True)
            count, _ = pipe.execute()
        except redis.RedisError as exc:
            if now - self._warned_at > 60:
                log.warning("rate limit not enforced: Redis unavailable (%s)", exc)
                self._warned_at = now
            return Decision(True, self.limit, self.limit, 0)
        retry_after = max(1, int((window + 1) * self.window_s - now + 0.999))
        remaining = max(0, self.limit - int(count))
        return Decision(int(count) <= self.limit, self.limit, remaining, retry_after)
