"""The ingest retry policy (backend/ingest/retry.py) that the in-process runner and the Celery task share."""
from __future__ import annotations

from backend.ingest.captioning.base import CaptioningUnavailable
from backend.ingest.retry import CELERY, IN_PROCESS, RetryPolicy


def test_transient_errors_are_retried_until_the_attempts_are_spent():
    policy = RetryPolicy(attempts=3, first_delay_s=0.5, max_delay_s=5.0)
    exc = ConnectionError("es down")
    assert [policy.retries(exc, attempt) for attempt in (1, 2, 3)] == [True, True, False]
    assert policy.failure(exc, 3) == "gave up after 3 attempts: ConnectionError: es down"


def test_final_errors_are_not_retried_and_keep_their_message():
    policy = RetryPolicy(attempts=3, first_delay_s=0.5, max_delay_s=5.0)
    exc = ValueError("not a patent document")
    assert not policy.retries(exc, 1)
    assert policy.failure(exc, 1) == "ValueError: not a patent document"


def test_the_delay_doubles_up_to_its_cap():
    assert [IN_PROCESS.delay_s(a) for a in (1, 2, 3, 4, 5)] == [0.5, 1.0, 2.0, 4.0, 5.0]
    assert [CELERY.delay_s(a) for a in (1, 2, 6, 7, 8)] == [1.0, 2.0, 32.0, 60.0, 60.0]


def test_the_captioning_endpoint_being_away_is_transient():
    assert CELERY.retries(CaptioningUnavailable("503 from the LLM server"), 1)
