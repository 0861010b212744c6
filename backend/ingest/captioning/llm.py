"""Captions from any OpenAI-compatible ``/v1/chat/completions`` endpoint (vLLM, llama.cpp, Ollama, OpenAI).

One request per figure asks for a JSON array of ``n`` synonym-rich descriptions. Transport errors,
timeouts, 429 and 5xx answers are retried with exponential backoff (tenacity, ``llm_retries`` times); an
answer that is not a JSON array of strings is a :class:`CaptioningError` naming what came back. Results are
cached on disk by the hash of (model, prompt), so re-ingesting a document makes no call.
"""
from __future__ import annotations

import json
import logging
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from tenacity import retry_if_exception, stop_after_attempt, wait_exponential, Retrying

from backend.ingest.captioning.base import CaptioningError, CaptioningUnavailable, FigureContext
from backend.ingest.captioning.cache import CaptionCache, content_key

log = logging.getLogger(__name__)

SYSTEM_PROMPT = (
    "You write search captions for patent drawings. Each caption describes what the drawing shows: the "
    "object, the view (with common synonyms, e.g. 'top plan view / view from above'), visible parts and "
    "shape, using the words a patent examiner might search with. Answer with a JSON array of strings only."
)


class TransientLLMError(Exception):
    """The endpoint failed in a way worth retrying (connection, timeout, 429, 5xx)."""


def _is_transient(exc: BaseException) -> bool:
    return isinstance(exc, (TransientLLMError, requests.ConnectionError, requests.Timeout))


def parse_captions(content: str, n: int) -> list[str]:
    """The JSON array in a chat answer (code fences and text around it are tolerated)."""
    text = (content or "").strip()
    text = re.sub(r"^```(?:json)?\s*|\s*```$", "", text)
    start, end = text.find("["), text.rfind("]")
    if start < 0 or end <= start:
        raise CaptioningError(f"LLM answer is not a JSON array: {content[:200]!r}")
    try:
        value = json.loads(text[start:end + 1])
    except ValueError as exc:
        raise CaptioningError(f"LLM answer is not valid JSON ({exc}): {content[:200]!r}") from None
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
        raise CaptioningError(f"LLM answer is not a non-empty array of strings: {content[:200]!r}")
    return list(dict.fromkeys(v.strip() for v in value))[:n]


class LLMCaptioner:
    name = "llm"

    def __init__(self, base_url: str, model: str, api_key: str = "", timeout_s: float = 60.0, retries: int = 3,
                 captions_per_figure: int = 3, cache_dir: Path | None = None, max_workers: int = 4,
                 backoff_s: float = 0.5):
        if not base_url:
            raise CaptioningError("PRISM_LLM_BASE_URL is not set (needed by PRISM_CAPTIONER=llm)")
        base = base_url.rstrip("/")
        self.url = base + ("/chat/completions" if base.endswith("/v1") else "/v1/chat/completions")
        self.model = model
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.retries = retries
        self.n = captions_per_figure
        self.cache = CaptionCache(cache_dir) if cache_dir else None
        self.max_workers = max_workers
        self.backoff_s = backoff_s
        self.calls = 0

    def messages(self, fig: FigureContext) -> list[dict]:
        facts = {
            "patent": fig.publication_number, "title": fig.title, "figure": fig.label or f"FIG. {fig.number}",
            "figure_description": fig.description, "viewpoint": fig.viewpoint, "object": fig.object_name,
            "cpc": fig.cpc[:5], "locarno": fig.locarno[:3], "abstract": fig.abstract[:600],
        }
        user = (f"Write {self.n} different descriptions of this patent drawing, each one sentence, rich in "
                f"synonyms for the object and the view. Facts: {json.dumps(facts, ensure_ascii=False)}\n"
                f"Answer with a JSON array of {self.n} strings.")
        return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]

    def caption(self, figures: list[FigureContext]) -> list[list[str]]:
        if len(figures) <= 1 or self.max_workers <= 1:
            return [self.caption_one(f) for f in figures]
        with ThreadPoolExecutor(max_workers=min(self.max_workers, len(figures))) as pool:
            return list(pool.map(self.caption_one, figures))

    def caption_one(self, fig: FigureContext) -> list[str]:
        messages = self.messages(fig)
        key = content_key(self.model, messages)
        if self.cache is not None:
            cached = self.cache.get(key)
            if cached is not None:
                return cached
        retrying = Retrying(stop=stop_after_attempt(self.retries + 1), reraise=True,
                            wait=wait_exponential(multiplier=self.backoff_s, max=10),
                            retry=retry_if_exception(_is_transient))
        try:
            content = retrying(self._call, messages)
        except (TransientLLMError, requests.RequestException) as exc:
            raise CaptioningUnavailable(f"LLM endpoint {self.url} failed after {self.retries + 1} attempts: {exc}") \
                from None
        captions = parse_captions(content, self.n)
        if self.cache is not None:
            self.cache.put(key, captions)
        return captions

    def _call(self, messages: list[dict]) -> str:
        self.calls += 1
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        resp = requests.post(self.url, json={"model": self.model, "messages": messages, "temperature": 0},
                             headers=headers, timeout=self.timeout_s)
        if resp.status_code == 429 or resp.status_code >= 500:
            raise TransientLLMError(f"HTTP {resp.status_code}: {resp.text[:200]}")
        if resp.status_code >= 400:
            raise CaptioningError(f"LLM endpoint {self.url} answered HTTP {resp.status_code}: {resp.text[:200]}")
        try:
            return resp.json()["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise CaptioningError(f"LLM endpoint {self.url} answered no chat completion: {resp.text[:200]!r}") \
                from None
