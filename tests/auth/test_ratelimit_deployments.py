"""Two deployments sharing one Redis database keep separate rate-limit budgets for
their keys, although both have a key #1 (real Redis, real SQLite databases)."""
from __future__ import annotations

import redis

from backend.auth.keys import create_key
from backend.cli_db import upgrade_database
from backend.db.session import session_scope


def _deployment(make_settings, tmp_path, name, redis_url):
    from backend.app import create_app

    settings = make_settings(data_dir=tmp_path / name, auth_required=True, redis_url=redis_url,
                             rate_limit_per_minute=5)
    upgrade_database(settings.resolved_database_url)
    with session_scope(settings.resolved_database_url) as s:
        key, token = create_key(s, f"examiner-{name}", "search")
        assert key.id == 1   # the same row id in both deployments
    app = create_app(settings)
    app.config["TESTING"] = True
    return app.test_client(), {"Authorization": f"Bearer {token}"}


def test_two_deployments_on_one_redis_do_not_share_budgets(make_settings, tmp_path, redis_db_url):
    client_a, auth_a = _deployment(make_settings, tmp_path, "a", redis_db_url)
    client_b, auth_b = _deployment(make_settings, tmp_path, "b", redis_db_url)
    for _ in range(3):
        assert client_a.get("/watches", headers=auth_a).status_code == 200
    first_b = client_b.get("/watches", headers=auth_b)
    # B's key has used 1 of its 5 calls (before the fix: counted on A's key #1 -> 1 left, then 429s)
    assert first_b.status_code == 200 and first_b.headers["X-RateLimit-Remaining"] == "4"
    names = [k.decode() for k in redis.Redis.from_url(redis_db_url).keys("prism:ratelimit:*")]
    assert len(names) == 2 and not any(n.split(":")[2] == "1" for n in names), names


def test_the_counter_name_does_not_reveal_the_stored_hash(make_settings, tmp_path, redis_db_url):
    from backend.db.models import ApiKey

    client, auth = _deployment(make_settings, tmp_path, "c", redis_db_url)
    assert client.get("/watches", headers=auth).status_code == 200
    settings_db = tmp_path / "c" / "prism.db"
    from sqlalchemy import select

    with session_scope(f"sqlite:///{settings_db}") as s:
        stored = s.scalar(select(ApiKey.key_hash))
    (name,) = [k.decode() for k in redis.Redis.from_url(redis_db_url).keys("prism:ratelimit:*")]
    assert stored not in name and stored[:32] not in name
