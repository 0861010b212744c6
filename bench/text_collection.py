"""A judged text-retrieval collection built from the shared patent data (used by bench/text_ranking.py).

Documents (English only):

* ``kr_utility/patents.jsonl`` - 771 Korean utility patents: English title + IPC (the Korean abstract is
  left out: no English query can match it);
* ``usdesign2007/designs.jsonl`` - 827 US design patents: title + USPC class-subclass;
* the US full texts of ``uspto_bulk``, ``uspto_grants_2025`` and ``uspto_samples`` (title, abstract,
  claims, one figure per drawing description, IPC) read with Prism's own parsers.

Relevance is defined by classification: two documents are relevant to each other when they share an IPC
main group (``H01G11/00``), or, for the design patents, the same USPC class-subclass (``D6-366``).
CPC and Locarno symbols are *not* given to Prism: its template captioner writes the titles of those
symbols into the indexed captions, which would leak the relevance labels into the text.

Queries are held-out documents: walking one document in three, picked and ordered by the sha1 of the
publication number, a document becomes a query when at least one relevant document stays in the
corpus for it and for every query chosen before it; queries are never indexed. Queries whose sha1
is even form the *dev* half (used to choose weights), the others the *test* half (reported).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

HOLD_OUT_EVERY = 3


@dataclass
class Doc:
    pub: str                        # normalised publication number (what Prism stores)
    title: str
    abstract: str = ""
    claims: str = ""
    figures: list[dict] = field(default_factory=list)   # manifest figures: number + description
    ipc: list[str] = field(default_factory=list)
    kind: str | None = None
    country: str | None = None
    labels: frozenset[str] = frozenset()
    source: str = ""

    @property
    def first_claim(self) -> str:
        text = self.claims.strip()
        for sep in ("\n", " 2. "):
            if sep in text:
                return text.split(sep, 1)[0]
        return text

    def manifest(self) -> dict:
        """One JSONL manifest line (the shape of the API ``metadata``, docs/ingest.md)."""
        out = {"publication_number": self.pub, "kind": self.kind, "country": self.country, "title": self.title,
               "abstract": self.abstract, "claims": self.claims, "ipc": self.ipc}
        if self.figures:
            out["figures"] = self.figures
        return {k: v for k, v in out.items() if v not in (None, "", [])}


@dataclass
class Collection:
    corpus: list[Doc]
    queries: dict[str, list[Doc]]          # "dev" / "test" -> held-out query documents
    qrels: dict[str, set[str]]             # query pub -> relevant corpus pubs

    def summary(self) -> dict:
        rel = [len(v) for v in self.qrels.values()]
        return {"corpus": len(self.corpus), "dev_queries": len(self.queries["dev"]),
                "test_queries": len(self.queries["test"]),
                "relevant_per_query_mean": round(sum(rel) / max(len(rel), 1), 2),
                "by_source": {s: sum(1 for d in self.corpus if d.source == s)
                              for s in sorted({d.source for d in self.corpus})}}


def _sha(text: str) -> int:
    return int(hashlib.sha1(text.encode()).hexdigest(), 16)


def _ipc_labels(symbols: list[str]) -> frozenset[str]:
    from backend.classification import try_parse

    out = set()
    for raw in symbols:
        sym = try_parse(raw, "ipc")
        if sym is not None and sym.levels().get("main_group"):
            out.add("ipc:" + sym.levels()["main_group"])
    return frozenset(out)


def _kr(shared: Path) -> list[Doc]:
    from backend.ingest.records import normalise_publication_number

    docs = []
    for line in (shared / "kr_utility" / "patents.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        title = (row.get("title_en") or "").strip()
        labels = _ipc_labels(row.get("ipc") or [])
        if not title or not labels:
            continue
        number = (row.get("registration_number") or "")[:9] or row.get("application_number") or ""
        if not number.isdigit():
            continue
        pub = normalise_publication_number(f"KR{number}", "KR", "B1")
        docs.append(Doc(pub, title.capitalize() if title.isupper() else title, ipc=list(row["ipc"]), kind="B1",
                        country="KR", labels=labels, source="kr_utility"))
    return docs


def _usdesign(shared: Path) -> list[Doc]:
    from backend.ingest.records import normalise_publication_number

    docs = []
    for line in (shared / "usdesign2007" / "designs.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if not row.get("title") or not row.get("uspc"):
            continue
        pub = normalise_publication_number(row["publication_number"], "US", "S")
        docs.append(Doc(pub, row["title"].strip(), kind="S", country="US",
                        labels=frozenset({"uspc:" + row["uspc"].strip().upper()}), source="usdesign2007"))
    return docs


def _full_texts(shared: Path) -> list[Doc]:
    from backend.ingest.parsers.discover import discover
    from backend.ingest.parsers.load import load_source

    roots = [shared / name for name in ("uspto_bulk", "uspto_grants_2025", "uspto_samples")]
    docs, seen = [], set()
    for item in discover([r for r in roots if r.exists()]):
        if item.skip or item.error:
            continue
        try:
            rec = load_source(item.locator)
        except Exception:  # noqa: BLE001 - a sample Prism cannot parse is simply not in the collection
            continue
        labels = _ipc_labels(rec.ipc)
        if rec.publication_number in seen or not rec.title or not labels:
            continue
        seen.add(rec.publication_number)
        figures = [{"number": f.number, "description": f.description} for f in rec.figures if f.description]
        docs.append(Doc(rec.publication_number, rec.title, rec.abstract, rec.claims, figures, list(rec.ipc),
                        rec.kind, rec.country, labels, "us_full_text"))
    return docs


def build(shared: Path) -> Collection:
    """The collection; about one document in :data:`HOLD_OUT_EVERY` is a candidate query."""
    docs: dict[str, Doc] = {}
    for doc in [*_kr(shared), *_usdesign(shared), *_full_texts(shared)]:
        docs.setdefault(doc.pub, doc)
    by_label: dict[str, set[str]] = {}
    for doc in docs.values():
        for label in doc.labels:
            by_label.setdefault(label, set()).add(doc.pub)

    def relevant(pub: str) -> set[str]:
        out = set().union(*(by_label[lab] for lab in docs[pub].labels))
        out.discard(pub)
        return out

    chosen: list[str] = []
    held: set[str] = set()
    for pub in sorted(docs, key=_sha):
        if _sha(pub) % HOLD_OUT_EVERY:
            continue
        mine = relevant(pub) - held
        if not mine:
            continue
        # keep at least one relevant corpus document for every query chosen before
        if any(not (relevant(q) - held - {pub}) for q in chosen if pub in relevant(q)):
            continue
        chosen.append(pub)
        held.add(pub)
    qrels = {q: relevant(q) - held for q in chosen}
    queries = {"dev": [docs[q] for q in chosen if _sha(q + "#split") % 2 == 0],
               "test": [docs[q] for q in chosen if _sha(q + "#split") % 2 == 1]}
    corpus = [d for p, d in sorted(docs.items()) if p not in held]
    return Collection(corpus, queries, qrels)


def query_text(doc: Doc, mode: str) -> str | None:
    """The query a held-out document gives in ``mode`` (None when it has no such text)."""
    if mode == "title":
        return doc.title
    if mode == "title+abstract":
        return f"{doc.title}\n{doc.abstract}" if doc.abstract else None
    if mode == "first_claim":
        return doc.first_claim or None
    raise ValueError(f"unknown query mode {mode!r}")
