"""Structured logs: the format chosen by PRISM_LOG_FORMAT, the request id taken or made and echoed, one line
per request with the key's name and the search kind, one line per ingest job."""
from __future__ import annotations

import io
import json
import logging

import pytest

from backend.observability import logs
from backend.settings import Settings


@pytest.fixture
def captured():
    """Install Prism's handler into a buffer with the given format; remove it afterwards."""
    root = logging.getLogger()
    level = root.level
    buffers = []

    def _install(fmt: str, stream=None) -> io.StringIO:
        buffer = stream or io.StringIO()
        logs.configure(Settings(log_format=fmt), stream=buffer)
        buffers.append(buffer)
        return buffer

    yield _install
    for handler in [h for h in root.handlers if h.get_name() == logs.HANDLER_NAME]:
        root.removeHandler(handler)
    root.setLevel(level)


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_json_lines_carry_the_bound_ids_and_extra_fields(captured):
    buffer = captured("json")
    with logs.bound(request_id="r-1", job_ids=["j1"]):
        logging.getLogger("prism.test").warning("hello %s", "there", extra={"duration_ms": 1.5})
    logging.getLogger("prism.test").warning("after")
    first, second = [json.loads(line) for line in buffer.getvalue().splitlines()]
    assert first["msg"] == "hello there" and first["level"] == "warning" and first["logger"] == "prism.test"
    assert (first["request_id"], first["job_ids"], first["duration_ms"]) == ("r-1", ["j1"], 1.5)
    assert "request_id" not in second   # unbound when the block ends


def test_auto_is_readable_on_a_terminal_and_json_otherwise(captured):
    tty = captured("auto", _Tty())
    with logs.bound(request_id="r-2"):
        logging.getLogger("prism.test").warning("on a terminal")
    line = tty.getvalue().strip()
    assert "WARNING prism.test  on a terminal" in line and line.endswith("request_id=r-2")
    piped = captured("auto")
    logging.getLogger("prism.test").warning("in a pipe")
    assert json.loads(piped.getvalue())["msg"] == "in a pipe"


def test_bad_log_format_is_refused_naming_the_variable(monkeypatch):
    from backend.settings import SettingsError, load_settings

    monkeypatch.setenv("PRISM_LOG_FORMAT", "xml")
    with pytest.raises(SettingsError, match="PRISM_LOG_FORMAT"):
        load_settings()


@pytest.mark.parametrize("given, kept", [("abc-123", True), ("x" * 129, False), ("a b", False),
                                         ("<script>", False), ("", False)])
def test_a_callers_request_id_is_kept_only_when_sane(given, kept):
    got = logs.accepted_request_id(given)
    assert (got == given) is kept and logs.REQUEST_ID.fullmatch(got)


def test_one_line_per_request_with_id_key_status_and_time(client, captured):
    buffer = captured("json")
    resp = client.post("/search", json={"text": "chair"}, headers={"X-Request-ID": "desk-7"})
    assert resp.status_code == 200 and resp.headers["X-Request-ID"] == "desk-7"
    made = client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert made.headers["X-Request-ID"] != "bad id with spaces" and len(made.headers["X-Request-ID"]) == 32
    lines = [json.loads(x) for x in buffer.getvalue().splitlines()]
    requests = [r for r in lines if r["logger"] == "prism.request"]
    assert [r["path"] for r in requests] == ["/search", "/healthz"]
    search = requests[0]
    assert (search["request_id"], search["status"], search["endpoint"], search["search_kind"], search["key"]) == \
        ("desk-7", 200, "search.search", "text", "anonymous")
    assert search["duration_ms"] > 0
    assert requests[1]["request_id"] == made.headers["X-Request-ID"]
    # every line logged while the search ran carries its id
    assert all(r.get("request_id") == "desk-7" for r in lines[:lines.index(search)])


def test_refused_requests_get_an_id_and_a_line_too(make_settings, captured):
    from backend.app import create_app
    from backend.cli_db import upgrade_database

    settings = make_settings(auth_required=True)
    upgrade_database(settings.resolved_database_url)
    buffer = captured("json")
    resp = create_app(settings).test_client().get("/jobs", headers={"X-Request-ID": "no-key-1"})
    assert resp.status_code == 401 and resp.headers["X-Request-ID"] == "no-key-1"
    line = next(json.loads(x) for x in buffer.getvalue().splitlines() if '"prism.request"' in x)
    assert (line["request_id"], line["status"]) == ("no-key-1", 401) and "key" not in line


def test_one_line_per_ingest_job(make_settings, captured):
    from backend.ingest.upload import submit_document
    from tests.ingest.conftest import faked_pipeline
    from tests.ingest.helpers import image_bytes
    from tests.operations.helpers import metadata

    buffer = captured("json")
    with faked_pipeline(make_settings) as (settings, _), logs.bound(request_id="cli-9"):
        job = submit_document(json.dumps(metadata("USD0999401", "Vase")),
                              [("f1.png", image_bytes("PNG")), ("f2.png", image_bytes("PNG", seed=2))], settings)
    jobs = [json.loads(x) for x in buffer.getvalue().splitlines() if '"prism.job"' in x]
    assert len(jobs) == 1
    assert (jobs[0]["job_id"], jobs[0]["outcome"], jobs[0]["request_id"]) == (job["job_id"], "ingested", "cli-9")
    assert jobs[0]["figures"] >= 2
    assert jobs[0]["duration_ms"] > 0


@pytest.mark.services
def test_a_task_sent_during_a_request_or_command_carries_its_id_and_the_queue_depth_shows_it(make_settings,
                                                                                           redis_db_url):
    """What the worker reads (tests/operations/test_worker_observability.py follows it through a worker): the
    message's headers; nobody consumes here, so the scrape sees it waiting in its queue."""
    import redis

    from backend.app import create_app
    from backend.cli_db import upgrade_database
    from backend.task_queue import INGEST_PROCESS, send
    from tests.operations.helpers import samples, value

    settings = make_settings(task_mode="celery", redis_url=redis_db_url)
    upgrade_database(settings.resolved_database_url)
    with logs.bound(request_id="cli-0a1b2c"):
        send(INGEST_PROCESS, [["job-1"]], settings)
    send(INGEST_PROCESS, [["job-2"]], settings)   # outside any request: no id
    queued = [json.loads(m) for m in redis.Redis.from_url(redis_db_url).lrange("ingest", 0, -1)]
    ids = sorted(str(m["headers"].get("prism_request_id")) for m in queued)
    assert ids == ["None", "cli-0a1b2c"]
    scrape = samples(create_app(settings).test_client().get("/metrics").get_data(as_text=True))
    assert value(scrape, "prism_celery_queue_length", queue="ingest") == 2
    assert value(scrape, "prism_celery_queue_length", queue="watches") == 0
    assert value(scrape, "prism_metrics_store_up", part="broker") == 1
