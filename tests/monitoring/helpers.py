"""Test helpers: a tiny in-memory search backend for unit tests of the runner, patent rows, and a
real HTTP webhook receiver (a ThreadingHTTPServer on 127.0.0.1) that verifies signatures."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from backend.db.models import Patent
from backend.monitoring import verify_signature
from backend.patent_numbers import normalise_lenient
from backend.search import SearchResponse
from backend.search.request import SearchRequest


class FakeSearch:
    """A search backend (the calls a watch run makes) matching documents whose text holds every query word;
    score = number of word hits."""

    def __init__(self, docs: dict[str, str] | None = None):
        self.docs = dict(docs or {})
        self.indexed_seq: dict[str, int] = {}
        self.requests: list[dict] = []
        self.fail_with: Exception | None = None
        self.on_search = None

    def search(self, request: SearchRequest) -> SearchResponse:
        body = request.model_dump(mode="json")
        self.requests.append(body)
        if self.on_search:
            self.on_search(body)
        if self.fail_with:
            raise self.fail_with
        words = (body.get("text") or "").lower().split()
        # the request normalises the numbers it filters on (backend/patent_numbers.py); the test documents
        # keep the short spellings the tests use, so compare in normalised form
        allowed = {normalise_lenient(p) for p in body["filters"]["publication_numbers"]}
        hits = []
        for pub in [p for p in self.docs if normalise_lenient(p) in allowed]:
            text = self.docs.get(pub, "").lower()
            if words and all(w in text for w in words):
                score = float(sum(text.count(w) for w in words))
                hits.append({"figure_id": f"{pub}-F1", "publication_number": pub, "title": text[:40], "score": score,
                             "image_url": f"/figures/{pub}-F1/image", "thumbnail_url": f"/figures/{pub}-F1/thumbnail",
                             "explain": {"bm25": {"rank": 1, "score": score}, "fused": score, "text_share": 1.0,
                                         "image_share": 0.0}})
        hits.sort(key=lambda h: (-h["score"], h["publication_number"]))
        return SearchResponse.model_validate({"total": len(hits), "next_cursor": None,
                                              "hits": hits[: body.get("size") or 20]})

    def refresh(self):
        return None

    def get_patent_figures(self, publication_number: str) -> list[dict]:
        """Indexed documents carry the ingest_seq they were written with (``indexed_seq``)."""
        if publication_number not in self.docs:
            return []
        return [{"publication_number": publication_number,
                 "ingest_seq": self.indexed_seq.get(publication_number)}]


def put_patent(session, pub: str, seq: int, title: str = "") -> Patent:
    """Insert or re-stamp a patent row the way ingest does (a new ingest_seq per (re)ingest)."""
    from sqlalchemy import select

    patent = session.scalar(select(Patent).where(Patent.publication_number == pub))
    if patent is None:
        patent = Patent(publication_number=pub, title=title, country="US", kind="S1")
        session.add(patent)
    patent.ingest_seq = seq
    if title:
        patent.title = title
    session.flush()
    return patent


class Receiver:
    """A webhook endpoint on 127.0.0.1 that checks X-Prism-Signature with ``secret``.

    ``status_codes`` is consumed one per request (then 200)."""

    def __init__(self, secret: str | None = None, status_codes: list[int] | None = None):
        self.secret = secret
        self.status_codes = list(status_codes or [])
        self.received: list[dict] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server API
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                header = self.headers.get("X-Prism-Signature", "")
                with receiver.lock:
                    valid = verify_signature(receiver.secret or "", header, raw, tolerance_s=300)
                    code = receiver.status_codes.pop(0) if receiver.status_codes else 200
                    receiver.received.append({"body": json.loads(raw), "raw": raw, "valid": valid,
                                              "headers": dict(self.headers), "answered": code})
                if not valid:
                    code = 401
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def accepted(self) -> list[dict]:
        with self.lock:
            return [r for r in self.received if r["valid"] and 200 <= r["answered"] < 300]
