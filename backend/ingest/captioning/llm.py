"""Captions from any OpenAI-compatible ``/v1/chat/completions`` endpoint (llama.cpp's server, vLLM,
Ollama, OpenAI).

One request per figure asks for ``n`` synonym-rich descriptions as JSON. The request carries the JSON schema
of the answer (``{"captions": [n strings]}``) as ``response_format`` - OpenAI's ``json_schema`` form, or
llama.cpp's ``{"type": "json_object", "schema": ...}``; ``auto`` (the default) sends the first and switches
to the second when the endpoint refuses it - which llama.cpp and vLLM turn into a grammar, so even a small
model answers valid JSON. The answer is still parsed leniently (an object with ``captions``, a bare array,
code fences and text around it).

Transport errors, timeouts, 429 and 5xx answers are retried with exponential backoff (tenacity,
``retries`` times) and then raise :class:`CaptioningUnavailable` (a transient ingest error: the job is
retried later). A 4xx (a wrong key or model name) is a :class:`CaptioningError`: the job fails with it.
An answer that is not usable (no JSON, no strings) is an :class:`UnusableAnswer`;
:meth:`LLMCaptioner.caption_noted` then uses the template captions for that figure and returns a note that
ingest keeps on the job. Results are cached on disk by the hash of (model, prompt), so re-ingesting a figure,
or retrying a batch that stopped half-way, makes no second call for what was answered. Requests for the
figures of a batch go out ``max_workers`` (``PRISM_LLM_CONCURRENCY``) at a time.
"""
from __future__ import annotations

import json
import logging
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from backend.ingest.captioning.base import (
    CaptioningError,
    CaptioningUnavailable,
    FigureContext,
)
from backend.ingest.captioning.cache import CaptionCache, content_key
from backend.ingest.captioning.titles import cpc_titles, locarno_title

log = logging.getLogger(__name__)

SYSTEM_PROMPT = (
    "You write search captions for patent drawings. Each caption describes what the drawing shows: the "
    "object, the view (with common synonyms, e.g. 'top plan view / view from above'), visible parts and "
    "shape, using the words a patent examiner might search with. Answer with JSON only."
)
MIN_CAPTION_CHARS = 8
EXAMPLE_FACTS = ("Patent: US0000000, \"Office chair\"\nFigure: FIG. 2: FIG. 2 is a top plan view of the chair\n"
                 "View: top plan\nObject: office chair\nClass: Locarno 06-01 (Furnishing)")
EXAMPLE_CAPTIONS = ["Top plan view of an office chair, seen from above",
                    "Overhead view of a swivel desk chair showing the seat and the five-star base",
                    "Plan view drawing of office seating furniture"]
RESPONSE_FORMATS = ("auto", "json_schema", "json_object", "none")
_WORD = re.compile(r"[^\W\d_]{2,}")   # a caption has words, not just JSON scraps ("} {}] } {")


class UnusableAnswer(CaptioningError):
    """The endpoint answered, but not with captions (no JSON, no strings): the template's are used."""


class TransientLLMError(Exception):
    """The endpoint failed in a way worth retrying (connection, timeout, 429, 5xx)."""


def _is_transient(exc: BaseException) -> bool:
    return isinstance(exc, (TransientLLMError, requests.ConnectionError, requests.Timeout))


def endpoint_url(base_url: str, path: str) -> str:
    """``http://host:port`` or ``http://host:port/v1`` + ``chat/completions`` / ``models``."""
    base = (base_url or "").rstrip("/")
    return f"{base}/{path}" if base.endswith("/v1") else f"{base}/v1/{path}"


def captions_schema(n: int) -> dict:
    item = {"type": "string"}   # no length bounds: llama.cpp's grammar for maxLength N is N nested options (slow)
    return {"type": "object", "required": ["captions"], "additionalProperties": False,
            "properties": {"captions": {"type": "array", "items": item, "minItems": n, "maxItems": n}}}


def parse_captions(content: str, n: int) -> list[str]:
    """The captions in a chat answer: ``{"captions": [...]}`` or a bare JSON array (code fences and text
    around it are tolerated); duplicates and scraps (under 8 characters or 2 words) are dropped."""
    text = (content or "").strip()
    text = re.sub(r"^```(?:json)?\s*|\s*```$", "", text)
    value = None
    obj_start, obj_end = text.find("{"), text.rfind("}")
    if 0 <= obj_start < obj_end:
        try:
            value = json.loads(text[obj_start:obj_end + 1], strict=False)   # a raw newline inside a string
        except ValueError:
            value = None
        if isinstance(value, dict):
            value = value.get("captions")
    if not isinstance(value, list):
        start, end = text.find("["), text.rfind("]")
        if start < 0 or end <= start:
            raise UnusableAnswer(f"LLM answer is not a JSON array: {content[:200]!r}")
        try:
            value = json.loads(text[start:end + 1], strict=False)
        except ValueError as exc:
            raise UnusableAnswer(f"LLM answer is not valid JSON ({exc}): {content[:200]!r}") from None
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise UnusableAnswer(f"LLM answer is not a non-empty array of strings: {content[:200]!r}")
    kept = [re.sub(r"\s+", " ", v).strip() for v in value]
    kept = [v for v in dict.fromkeys(kept) if len(v) >= MIN_CAPTION_CHARS and len(_WORD.findall(v)) >= 2]
    if not kept:
        raise UnusableAnswer(f"LLM answer has no usable caption (array of strings, each at least "
                              f"{MIN_CAPTION_CHARS} characters): {content[:200]!r}")
    return kept[:n]


def classification_facts(fig: FigureContext, cpc_titles_dir: Path | None = None) -> list[str]:
    """The figure's classification symbols with their titles (a model cannot read bare symbols)."""
    out = []
    for sym in fig.locarno[:2]:
        title = locarno_title(sym)
        out.append(f"Locarno {sym}" + (f" ({title})" if title else ""))
    for sym in fig.cpc[:3]:
        titles = cpc_titles(sym, cpc_titles_dir)
        out.append(f"CPC {sym}" + (f" ({'; '.join(titles[-2:])})" if titles else ""))
    return out


class LLMCaptioner:
    name = "llm"

    def __init__(self, base_url: str, model: str, api_key: str = "", timeout_s: float = 60.0, retries: int = 3,
                 captions_per_figure: int = 3, cache_dir: Path | None = None, max_workers: int = 4,
                 backoff_s: float = 0.5, response_format: str = "auto", fallback=None,
                 cpc_titles_dir: Path | None = None):
        if not base_url:
            raise CaptioningError("PRISM_LLM_BASE_URL is not set (needed by PRISM_CAPTIONER=llm)")
        self.url = endpoint_url(base_url, "chat/completions")
        self.model = model
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.retries = retries
        self.n = captions_per_figure
        self.cache = CaptionCache(cache_dir) if cache_dir else None
        self.max_workers = max_workers
        self.backoff_s = backoff_s
        if response_format not in RESPONSE_FORMATS:
            raise CaptioningError(f"response format {response_format!r}: choose one of {', '.join(RESPONSE_FORMATS)}")
        self.response_format = response_format
        self.cpc_titles_dir = cpc_titles_dir
        if fallback is None:
            from backend.ingest.captioning.template import TemplateCaptioner

            fallback = TemplateCaptioner(cpc_titles_dir)
        self.fallback = fallback
        self.calls = 0

    def facts(self, fig: FigureContext) -> str:
        lines = [f"Patent: {fig.publication_number}" + (f", \"{fig.title}\"" if fig.title else ""),
                 f"Figure: {fig.label or f'FIG. {fig.number}'}" + (f": {fig.description}" if fig.description else "")]
        if fig.viewpoint:
            lines.append(f"View: {fig.viewpoint}")
        if fig.object_name:
            lines.append(f"Object: {fig.object_name}")
        lines.extend(f"Class: {c}" for c in classification_facts(fig, self.cpc_titles_dir))
        if fig.abstract:
            lines.append(f"Abstract: {fig.abstract[:600]}")
        return "\n".join(lines)

    def messages(self, fig: FigureContext) -> list[dict]:
        """The instruction, one worked example (small models follow an example far better than a rule),
        then the figure's facts."""
        ask = (f"Write {self.n} different one-sentence descriptions of the patent drawing, rich in synonyms for "
               f"the object and the view. Answer as JSON: {{\"captions\": [{self.n} strings]}}\n")
        example = EXAMPLE_CAPTIONS[: self.n] + [f"{EXAMPLE_CAPTIONS[0]} ({i})" for i in range(self.n - 3)]
        return [{"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": ask + EXAMPLE_FACTS},
                {"role": "assistant", "content": json.dumps({"captions": example})},
                {"role": "user", "content": ask + self.facts(fig)}]

    def caption(self, figures: list[FigureContext]) -> list[list[str]]:
        return self.caption_noted(figures)[0]

    def caption_noted(self, figures: list[FigureContext]) -> tuple[list[list[str]], list[str]]:
        """Captions per figure, and a note for each figure whose answer was not usable (template captions
        used instead). :class:`CaptioningUnavailable` (the endpoint is down) propagates: what was
        answered before is cached, so a retry asks only for the rest."""
        if len(figures) <= 1 or self.max_workers <= 1:
            outcomes = [self._caption_or_error(f) for f in figures]
        else:
            with ThreadPoolExecutor(max_workers=min(self.max_workers, len(figures))) as pool:
                outcomes = list(pool.map(self._caption_or_error, figures))
        captions, notes = [], []
        for fig, outcome in zip(figures, outcomes):
            if isinstance(outcome, UnusableAnswer):
                captions.append(self.fallback.caption_one(fig))
                notes.append(f"{fig.label or f'FIG. {fig.number}'}: template captions (the LLM's answer was not "
                             f"usable: {str(outcome)[:160]})")
            else:
                captions.append(outcome)
        return captions, notes

    def _caption_or_error(self, fig: FigureContext) -> list[str] | UnusableAnswer:
        try:
            return self.caption_one(fig)
        except UnusableAnswer as exc:
            log.warning("LLM caption of %s %s not usable: %s", fig.publication_number, fig.number, exc)
            return exc

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

    def request_body(self, messages: list[dict], response_format: str | None = None) -> dict:
        body = {"model": self.model, "messages": messages, "temperature": 0, "max_tokens": 64 * self.n + 32}
        form = response_format or self.response_format
        if form in ("auto", "json_schema"):
            body["response_format"] = {"type": "json_schema", "json_schema": {
                "name": "captions", "strict": True, "schema": captions_schema(self.n)}}
        elif form == "json_object":
            body["response_format"] = {"type": "json_object", "schema": captions_schema(self.n)}
        return body

    def _call(self, messages: list[dict]) -> str:
        self.calls += 1
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        resp = requests.post(self.url, json=self.request_body(messages), headers=headers, timeout=self.timeout_s)
        if self.response_format == "auto" and resp.status_code >= 400 and "response_format" in resp.text:
            # llama.cpp's server knows only {"type": "json_object", "schema": ...} (and says so with a 500)
            resp = requests.post(self.url, json=self.request_body(messages, "json_object"), headers=headers,
                                 timeout=self.timeout_s)
            if resp.ok:
                self.response_format = "json_object"
        if resp.status_code == 429 or resp.status_code >= 500:
            raise TransientLLMError(f"HTTP {resp.status_code}: {resp.text[:200]}")
        if resp.status_code >= 400:
            raise CaptioningError(f"LLM endpoint {self.url} answered HTTP {resp.status_code}: {resp.text[:200]}")
        try:
            return resp.json()["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise UnusableAnswer(f"LLM endpoint {self.url} answered no chat completion: {resp.text[:200]!r}") \
                from None
