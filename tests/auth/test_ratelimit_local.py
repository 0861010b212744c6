"""Without Redis (the embedded default) the rate limit is counted in process, per key: it does not fail open."""
from __future__ import annotations

from backend.auth.keys import create_key
from backend.auth.ratelimit import FixedWindowLimiter, LocalWindowLimiter
from backend.cli_db import upgrade_database
from backend.db.session import session_scope

NO_REDIS = "redis://127.0.0.1:1/0"     # nothing listens on port 1: connection refused at once


def test_local_window_counts_per_key_and_resets_each_window():
    limiter = LocalWindowLimiter(limit=2, window_s=60)
    t = 600.0
    assert [limiter.hit("a", t).allowed for _ in range(3)] == [True, True, False]
    assert limiter.hit("b", t).allowed                      # another key, its own budget
    denied = limiter.hit("a", t + 10)
    assert (denied.allowed, denied.remaining, denied.retry_after_s) == (False, 0, 50)
    assert limiter.hit("a", t + 60).allowed                 # the next window


def test_local_window_memory_is_bounded():
    limiter = LocalWindowLimiter(limit=5, window_s=60, max_keys=100)
    for i in range(1000):
        limiter.hit(f"k{i}", 60.0 * i)                      # each key in a window of its own
    assert len(limiter._counts) <= 100


def test_without_redis_the_limit_is_kept_in_process():
    limiter = FixedWindowLimiter(NO_REDIS, limit=3)
    assert [limiter.hit("k", 6000.0).allowed for _ in range(4)] == [True, True, True, False]


def test_the_embedded_default_without_redis_answers_429(make_settings, monkeypatch):
    from backend.app import create_app

    monkeypatch.setattr("backend.auth.ratelimit.wall_clock", lambda: 6000.0)   # one window for all the calls
    settings = make_settings(auth_required=True, redis_url=NO_REDIS, rate_limit_per_minute=3)
    upgrade_database(settings.resolved_database_url)
    with session_scope(settings.resolved_database_url) as s:
        _, first = create_key(s, "examiner-1", "search")
        _, second = create_key(s, "examiner-2", "search")
    client = create_app(settings).test_client()
    one, two = ({"Authorization": f"Bearer {t}"} for t in (first, second))
    answers = [client.get("/watches", headers=one) for _ in range(4)]
    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    assert answers[2].headers["X-RateLimit-Remaining"] == "0"
    assert int(answers[3].headers["Retry-After"]) >= 1 and "rate limit of 3" in answers[3].json["detail"]
    assert client.get("/watches", headers=two).status_code == 200      # per key
