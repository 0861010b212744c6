"""One retry policy for an ingest batch, for the in-process runner and the Celery task alike.

A transient error (:func:`backend.ingest.errors.is_transient`: ES, Redis, the database or the captioning
endpoint unreachable or overloaded) is retried after an exponential backoff; a final error (bad input)
is not. When the attempts are spent, the batch's unfinished jobs fail with :meth:`RetryPolicy.failure`
as their error (``GET /jobs?status=failed``, ``POST /jobs/<id>/retry``). The two runners differ only in
their time scale: a process that waits for its own ingest retries a few times within seconds, a worker
re-queues the task for up to about a minute between tries.
"""
from __future__ import annotations

from dataclasses import dataclass

from backend.ingest.errors import is_transient


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int        # tries in all, the first one included
    first_delay_s: float
    max_delay_s: float

    def retries(self, exc: BaseException, attempt: int) -> bool:
        """Whether to try again after ``exc`` ended try number ``attempt`` (1-based)."""
        return is_transient(exc) and attempt < self.attempts

    def delay_s(self, attempt: int) -> float:
        """Seconds to wait after try number ``attempt`` failed: doubling from the first delay, capped."""
        return min(self.first_delay_s * 2 ** (attempt - 1), self.max_delay_s)

    def failure(self, exc: BaseException, attempt: int) -> str:
        """The error the unfinished jobs keep when no try is left (or the error is final)."""
        why = f"gave up after {attempt} attempts: " if is_transient(exc) else ""
        return f"{why}{type(exc).__name__}: {exc}"


#: ``PRISM_TASK_MODE=eager``: the API or CLI process runs the batch and waits for it
IN_PROCESS = RetryPolicy(attempts=3, first_delay_s=0.5, max_delay_s=5.0)
#: ``PRISM_TASK_MODE=celery``: the worker re-queues the task (``acks_late``; the pipeline is idempotent)
CELERY = RetryPolicy(attempts=7, first_delay_s=1.0, max_delay_s=60.0)
