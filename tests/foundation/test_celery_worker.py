"""A real worker process consumes a task from the real Redis broker."""
import os

import pytest


@pytest.mark.services
def test_real_worker_runs_a_task(make_settings, redis_db_url, celery_worker_proc):
    from workers.celery_app import make_celery

    settings = make_settings(task_mode="celery", redis_url=redis_db_url)
    worker = celery_worker_proc(settings)
    app = make_celery(settings)
    result = app.send_task("prism.system.ping", args=["hello"])
    out = result.get(timeout=60)
    assert out["pong"] == "hello"
    assert out["pid"] != os.getpid()
    assert worker.proc.poll() is None


def test_celery_config_is_safe_by_default(make_settings):
    from workers.celery_app import make_celery

    conf = make_celery(make_settings()).conf
    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert conf.task_serializer == "json" and conf.accept_content == ["json"]
    assert conf.broker_transport_options["visibility_timeout"] >= 60


@pytest.mark.services
@pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored")   # the point of the test
def test_send_reaches_the_given_broker_even_if_this_process_built_an_eager_app(make_settings, redis_db_url):
    import json

    import redis

    from workers import celery_app

    celery_app.app.conf.task_always_eager = True           # the worst case: the global app is eager
    try:
        settings = make_settings(task_mode="celery", redis_url=redis_db_url)
        celery_app.send("prism.system.ping", ["queued"], settings)
    finally:
        celery_app.app.conf.task_always_eager = False
    queued = redis.Redis.from_url(redis_db_url).lrange("default", 0, -1)
    assert len(queued) == 1
    message = json.loads(queued[0])
    assert message["headers"]["task"] == "prism.system.ping"
