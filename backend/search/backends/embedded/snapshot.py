"""One generation of the embedded store in memory: filter postings per keyword value, date ordinals, the
normalised vector matrix, and what searches of this generation keep (BM25 postings, group codes, counts).
Rebuilt when a write bumps the stored generation (:meth:`.store.EmbeddedStore.snapshot`)."""
from __future__ import annotations

import bisect
import datetime as dt
import json
import threading
from collections.abc import Callable
from functools import cached_property

import numpy as np

from backend.search.backends.embedded import fts_bm25
from backend.search.backends.embedded.vector_scan import VectorScan
from backend.search.index import documents
from backend.search.pipeline.candidates import Candidate
from backend.search.pipeline.filters import Clause, FilterSpec

KEYWORD_FIELDS = tuple(f"{s}_{lvl}" for s in ("cpc", "ipc") for lvl in documents.HIER_LEVELS) + (
    "locarno_class", "locarno_subclass", "applicant_keys", "country", "kind", "publication_number", "family_id")
PREFIX_FIELDS = ("cpc_symbol", "ipc_symbol")
#: drawing-ranking counts kept per snapshot (one per filter set and grouping)
COUNTS_KEPT = 32


def _ordinal(value: str | None) -> int:
    return dt.date.fromisoformat(value).toordinal() if value else -1


class Snapshot:
    """In-memory filter structures and vectors for one generation of the store."""

    def __init__(self, rows: list[tuple], dims: int | None):
        n = len(rows)
        self.ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=n)
        self.figure_ids = [r[1] for r in rows]
        self.pubs = [r[2] for r in rows]
        order = np.argsort(np.array(self.figure_ids, dtype=object), kind="stable") if n else np.zeros(0, int)
        self.fid_rank = np.empty(n, dtype=np.int64)
        self.fid_rank[order] = np.arange(n)
        postings: dict[str, dict[str, list[int]]] = {f: {} for f in KEYWORD_FIELDS}
        self.dates = {f: np.full(n, -1, dtype=np.int32) for f in documents.DATE_FIELDS.values()}
        self.cpc_subclass: list[list[str]] = []
        self.families: list[str] = []     # family id, or the publication number (indexed before families)
        self.locarno_class: list[list[str]] = []
        self.ipc_subclass: list[list[str]] = []
        self.facet_keys: list[tuple[list[str], list[str], list[str]]] = []   # applicant keys, country, year
        self.dims = dims
        self.vectors = np.zeros((n, dims or 0), dtype=np.float32)
        self.has_vec = np.zeros(n, dtype=bool)
        for pos, (_id, _fid, _pub, keys_json, blob) in enumerate(rows):
            keys = json.loads(keys_json)
            for fld in KEYWORD_FIELDS:
                value = keys.get(fld)
                for v in (value if isinstance(value, list) else [value] if value else []):
                    postings[fld].setdefault(v, []).append(pos)
            for fld, arr in self.dates.items():
                arr[pos] = _ordinal(keys.get(fld))
            self.cpc_subclass.append(keys.get("cpc_subclass") or [])
            self.families.append(keys.get("family_id") or _pub)
            self.locarno_class.append(keys.get("locarno_class") or [])
            self.ipc_subclass.append(keys.get("ipc_subclass") or [])
            country, published = keys.get("country"), keys.get("publication_date")
            self.facet_keys.append((keys.get("applicant_keys") or [], [country] if country else [],
                                    [published[:4]] if published else []))
            if blob is not None and dims:
                vec = np.frombuffer(blob, dtype=np.float32)
                if vec.shape[0] == dims:
                    norm = float(np.linalg.norm(vec))
                    if norm > 0:
                        self.vectors[pos] = vec / norm
                        self.has_vec[pos] = True
        self.postings = {f: {v: np.asarray(p, dtype=np.int64) for v, p in d.items()} for f, d in postings.items()}
        self.sorted_values = {f: sorted(self.postings[f]) for f in PREFIX_FIELDS}
        self.all_vectors = bool(self.has_vec.all())
        self.scan = VectorScan(self.vectors, self.has_vec)
        self._text: dict[str, fts_bm25.TableIndex] = {}
        self._text_lock = threading.Lock()
        self._group_codes: dict[str, tuple[np.ndarray, dict[str, int]]] = {}
        self.has_languages: bool | None = None    # any German/French row (asked once per snapshot)
        self._counted: dict[tuple, tuple[int, np.ndarray]] = {}

    def counted(self, key: tuple, count: Callable[[], tuple[int, np.ndarray]]) -> tuple[int, np.ndarray]:
        """``count()`` kept for this generation under ``key`` (the drawing ranking's count depends on the
        filters and the grouping only); the last :data:`COUNTS_KEPT` kept."""
        with self._text_lock:
            found = self._counted.get(key)
        if found is None:
            found = count()
            with self._text_lock:
                self._counted[key] = found
                while len(self._counted) > COUNTS_KEPT:
                    self._counted.pop(next(iter(self._counted)))
        return found

    def text_index(self, table: str, tokenize: str) -> fts_bm25.TableIndex:
        """The BM25 postings of an FTS table for this snapshot (:mod:`.fts_bm25`), made on first use."""
        with self._text_lock:
            index = self._text.get(table)
            if index is None:
                index = self._text[table] = fts_bm25.TableIndex(table, tokenize, self.ids)
            return index

    def __len__(self) -> int:
        return len(self.figure_ids)

    @cached_property
    def pos_of(self) -> dict[str, int]:
        """figure id -> position (built on first use)."""
        return {fid: pos for pos, fid in enumerate(self.figure_ids)}

    def _positions(self, clause: Clause) -> list[np.ndarray]:
        if clause.field == "figure_id":
            pos = self.pos_of.get(clause.value)
            return [np.array([pos], dtype=np.int64)] if pos is not None else []
        table = self.postings.get(clause.field, {})
        if not clause.prefix:
            hit = table.get(clause.value)
            return [hit] if hit is not None else []
        values = self.sorted_values[clause.field]
        out = []
        for value in values[bisect.bisect_left(values, clause.value):]:
            if not value.startswith(clause.value):
                break
            out.append(table[value])
        return out

    def mask(self, spec: FilterSpec) -> np.ndarray | None:
        """Boolean mask of the figures passing ``spec`` (None: all pass)."""
        if spec.empty:
            return None
        n = len(self)
        mask = np.ones(n, dtype=bool)
        for group in spec.must_any:
            any_ = np.zeros(n, dtype=bool)
            for clause in group:
                for pos in self._positions(clause):
                    any_[pos] = True
            mask &= any_
        for clause in spec.must_not:
            for pos in self._positions(clause):
                mask[pos] = False
        for fld, (gte, lte) in spec.ranges.items():
            arr = self.dates[fld]
            mask &= arr >= 0
            if gte:
                mask &= arr >= _ordinal(gte)
            if lte:
                mask &= arr <= _ordinal(lte)
        return mask

    def candidate(self, pos: int, score: float) -> Candidate:
        applicants, country, year = self.facet_keys[pos]
        return Candidate(self.figure_ids[pos], self.pubs[pos], float(score), self.cpc_subclass[pos],
                         self.locarno_class[pos], family_id=self.families[pos], ipc_subclass=self.ipc_subclass[pos],
                         applicant_keys=applicants, country=country, year=year)

    def groups(self, group_field: str) -> list[str]:
        """Per position, what a grouped list keeps one of (patent, or family)."""
        return self.families if group_field == "family_id" else self.pubs

    def group_codes(self, group_field: str) -> tuple[np.ndarray, dict[str, int]]:
        """(per position the number of its group, group -> number): counting distinct groups in NumPy."""
        with self._text_lock:
            cached = self._group_codes.get(group_field)
            if cached is None:
                names: dict[str, int] = {}
                codes = np.fromiter((names.setdefault(g, len(names)) for g in self.groups(group_field)),
                                    dtype=np.int64, count=len(self))
                cached = self._group_codes[group_field] = (codes, names)
            return cached

    def ordered(self, positions: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """Indices into ``positions`` sorted by score desc, then figure id asc."""
        return np.lexsort((self.fid_rank[positions], -scores))


def row_arrays(snap: Snapshot, rows: list) -> tuple[np.ndarray, np.ndarray]:
    """(snapshot positions, scores) of SQL (rowid, bm25) rows (FTS5's bm25 is negative: best first)."""
    rowids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    scores = -np.fromiter((r[1] for r in rows), dtype=np.float64, count=len(rows))
    pos, ok = fts_bm25.positions(snap.ids, rowids)
    return pos, scores[ok]


def dedupe_positions(order: list[int], pubs: list[str], limit: int) -> list[int]:
    seen: set[str] = set()
    out = []
    for pos in order:
        if pubs[pos] not in seen:
            seen.add(pubs[pos])
            out.append(pos)
            if len(out) >= limit:
                break
    return out
