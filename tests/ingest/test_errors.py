import elasticsearch
import pytest
import redis
from elastic_transport import ApiResponseMeta, HttpHeaders, NodeConfig
from sqlalchemy.exc import IntegrityError, OperationalError

from backend.ingest.captioning.base import CaptioningError, CaptioningUnavailable
from backend.ingest.errors import is_transient
from backend.ingest.images import ImageRejected
from backend.ingest.records import ParseError


def _api_error(status: int) -> elasticsearch.ApiError:
    meta = ApiResponseMeta(status=status, http_version="1.1", headers=HttpHeaders(), duration=0.0,
                           node=NodeConfig("http", "127.0.0.1", 9200))
    return elasticsearch.ApiError(f"HTTP {status}", meta=meta, body={})


@pytest.mark.parametrize("exc, transient", [
    (ConnectionError("refused"), True),
    (TimeoutError(), True),
    (redis.ConnectionError("down"), True),
    (OperationalError("SELECT 1", {}, Exception("server closed the connection")), True),
    (elasticsearch.ConnectionError("es down"), True),
    (_api_error(429), True),
    (_api_error(503), True),
    (_api_error(400), False),
    (CaptioningUnavailable("LLM kept failing"), True),
    (CaptioningError("garbage"), False),
    (ParseError("bad xml"), False),
    (ImageRejected("corrupt"), False),
    (IntegrityError("INSERT", {}, Exception("duplicate key")), False),
    (ValueError("x"), False),
])
def test_transient_classification(exc, transient):
    assert is_transient(exc) is transient


def test_a_wrapped_transient_cause_counts():
    try:
        try:
            raise ConnectionError("refused")
        except ConnectionError as inner:
            raise RuntimeError("index failed") from inner
    except RuntimeError as outer:
        assert is_transient(outer)
