"""Partial results: what Elasticsearch says about the shards that answered a search.

With a shard unavailable (its node died and no copy is left) or past a search timeout, Elasticsearch
still answers, from the shards it reached, with ``_shards.failed`` > 0 or ``timed_out: true``. A search
runs several requests (BM25 and kNN lists, dense text, the text tail and count); the report keeps the
worst of them, and the API response says ``"partial": true`` with these counts. ``skipped`` shards were
left out because they cannot match (pre-filter), so they do not make a result partial. The embedded
backend has no shards: its results are never partial.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ShardReport:
    total: int = 0
    successful: int = 0
    skipped: int = 0
    failed: int = 0
    timed_out: bool = False
    #: a reason per failed shard, e.g. ``"no_shard_available_action_exception"`` (at most a few)
    reasons: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    MAX_REASONS = 3

    def add(self, response: Any) -> None:
        """Fold in one search response (a dict or an ``ObjectApiResponse``)."""
        body = getattr(response, "body", response)
        if not isinstance(body, dict):
            return
        shards = body.get("_shards") or {}
        with self._lock:
            self.timed_out = self.timed_out or bool(body.get("timed_out"))
            failed = int(shards.get("failed") or 0)
            if shards and (failed > self.failed or not self.total):
                self.total = int(shards.get("total") or 0)
                self.successful = int(shards.get("successful") or 0)
                self.skipped = int(shards.get("skipped") or 0)
                self.failed = failed
            for f in shards.get("failures") or []:
                reason = (f.get("reason") or {}).get("type") if isinstance(f, dict) else None
                if reason and reason not in self.reasons and len(self.reasons) < self.MAX_REASONS:
                    self.reasons.append(reason)

    @property
    def partial(self) -> bool:
        return self.failed > 0 or self.timed_out

    def to_json(self) -> dict:
        return {"total": self.total, "successful": self.successful, "skipped": self.skipped,
                "failed": self.failed, "timed_out": self.timed_out, "failure_reasons": list(self.reasons)}

    def describe(self) -> str:
        """One line for people: ``"partial results: 1 of 3 shards failed"``."""
        parts = []
        if self.failed:
            parts.append(f"{self.failed} of {self.total} shards failed")
        if self.timed_out:
            parts.append("the search timed out")
        return "partial results: " + " and ".join(parts) + " (some matches may be missing)"
