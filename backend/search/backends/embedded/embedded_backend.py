"""The single-machine backend: SQLite FTS5 for text (plain words ranked by FTS5's ``bm25()`` computed in
NumPy from FTS5's postings, :mod:`.fts_bm25`; phrases and the query language by SQL), exact NumPy cosine
search for vectors.

Everything lives in one SQLite file under ``settings.resolved_embedded_dir`` (WAL mode, so the API and
a worker may share it). Filters and vectors are held in memory as a snapshot (posting lists per
keyword value, date ordinals, a normalised vector matrix) that is rebuilt when another write bumps the
stored generation. Filters are applied before ranking, exactly as in the ES backend (``knn.filter``).
"""
from __future__ import annotations

import bisect
import datetime as dt
import json
import logging
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path

import numpy as np

from backend.patent_numbers import lookup_keys, pick
from backend.search.backends.embedded import fts_bm25
from backend.search.backends.embedded.vector_scan import VectorScan
from backend.search.errors import IndexVersionError
from backend.search.index import documents
from backend.search.pipeline.engine import (
    FAMILY_MEMBER_FIELDS,
    MAX_FAMILY,
    SCHEME_FIELDS,
    Candidate,
    Query,
    SearchBackend,
)
from backend.search.pipeline.filters import Clause, FilterSpec
from backend.search.text import languages, text_fields
from backend.settings import Settings

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
DB_NAME = "figures.sqlite3"
#: BM25 column weights, in the FTS table's column order (same boosts as the ES multi_match)
FTS_COLUMNS = documents.TEXT_FIELDS
FTS_WEIGHTS = text_fields.FIELD_WEIGHTS   # the shared table (same dict: changes apply to both)
KEYWORD_FIELDS = tuple(f"{s}_{lvl}" for s in ("cpc", "ipc") for lvl in documents.HIER_LEVELS) + (
    "locarno_class", "locarno_subclass", "applicant_keys", "country", "kind", "publication_number", "family_id")
PREFIX_FIELDS = ("cpc_symbol", "ipc_symbol")
#: from this many figures a hybrid search reads its lists in parallel threads (below, threads cost more)
PARALLEL_MIN_ROWS = 20_000
#: from that many figures, the BM25 postings of words in at least this share of them are read ahead
PREWARM_SHARE = 0.01

FTS_TOKENIZE = "porter unicode61 remove_diacritics 2"
#: the per-language fields (languages.FIELDS) hold analysed tokens: no stemming or folding here
LANG_COLUMNS = languages.FIELDS
LANG_TOKENIZE = "unicode61 remove_diacritics 0"
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS figures (
    id INTEGER PRIMARY KEY,
    figure_id TEXT NOT NULL UNIQUE,
    publication_number TEXT NOT NULL,
    figure_number INTEGER NOT NULL DEFAULT 0,
    doc TEXT NOT NULL,
    keys TEXT NOT NULL,
    image_vector BLOB,
    text_vector BLOB
);
CREATE INDEX IF NOT EXISTS figures_publication ON figures (publication_number);
-- encoder ids of the figures with vectors (index_encoder.py asks before every ingest batch): no JSON parsing
CREATE INDEX IF NOT EXISTS figures_model_id ON figures (json_extract(doc, '$.model_id'))
    WHERE image_vector IS NOT NULL OR text_vector IS NOT NULL;
CREATE VIRTUAL TABLE IF NOT EXISTS figures_fts USING fts5(
    {", ".join(FTS_COLUMNS)}, tokenize = '{FTS_TOKENIZE}'
);
-- German/French text, already analysed in Python (languages.py): only split on whitespace here
CREATE VIRTUAL TABLE IF NOT EXISTS figures_lang USING fts5(
    {", ".join(LANG_COLUMNS)}, tokenize = '{LANG_TOKENIZE}'
);
"""


def _ordinal(value: str | None) -> int:
    return dt.date.fromisoformat(value).toordinal() if value else -1


class _Snapshot:
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


def _row_arrays(snap: _Snapshot, rows: list) -> tuple[np.ndarray, np.ndarray]:
    """(snapshot positions, scores) of SQL (rowid, bm25) rows (FTS5's bm25 is negative: best first)."""
    rowids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    scores = -np.fromiter((r[1] for r in rows), dtype=np.float64, count=len(rows))
    pos, ok = fts_bm25.positions(snap.ids, rowids)
    return pos, scores[ok]


def _dedupe_positions(order: list[int], pubs: list[str], limit: int) -> list[int]:
    seen: set[str] = set()
    out = []
    for pos in order:
        if pubs[pos] not in seen:
            seen.add(pubs[pos])
            out.append(pos)
            if len(out) >= limit:
                break
    return out


class EmbeddedBackend(SearchBackend):
    name = "embedded"

    def __init__(self, settings: Settings, directory: Path | None = None):
        super().__init__(settings)
        self.directory = Path(directory or settings.resolved_embedded_dir)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / DB_NAME
        self._local = threading.local()
        self._lock = threading.Lock()
        self._snapshot: _Snapshot | None = None
        self._snapshot_gen: int | None = None
        self._conn().executescript(_SCHEMA)
        self._ensure_dense_column()
        self._dense_cache: tuple[int, np.ndarray, np.ndarray] | None = None
        self._pool: ThreadPoolExecutor | None = None
        self.parallel_min_rows = PARALLEL_MIN_ROWS
        self.prewarming: threading.Thread | None = None   # reading common words' postings ahead (_prewarm)
        with self._write() as conn:
            version = self._meta(conn, "schema_version")
            if version is None:
                conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
                conn.execute("INSERT OR IGNORE INTO meta VALUES ('generation', '0')")
            elif int(version) != SCHEMA_VERSION:
                raise IndexVersionError(
                    f"the embedded index at {self.path} has schema version {version}, this Prism needs "
                    f"{SCHEMA_VERSION}; run `prism index reindex` to rebuild it")

    # -- connections --------------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    @contextmanager
    def _write(self):
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

    @staticmethod
    def _meta(conn, key: str) -> str | None:
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    @staticmethod
    def _bump(conn) -> None:
        conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")

    # -- storage ------------------------------------------------------------------------------
    def dims(self, fresh: bool = False) -> int | None:   # always read from the database
        value = self._meta(self._conn(), "dims")
        return int(value) if value else None

    def count(self) -> int:
        return int(self._conn().execute("SELECT count(*) FROM figures").fetchone()[0])

    def carries_scheme(self, scheme: str) -> bool:
        return bool(self._current().postings.get(SCHEME_FIELDS[scheme]))

    def any_match(self, spec: FilterSpec) -> bool:
        snap = self._current()
        mask = snap.mask(spec)
        return bool(len(snap)) if mask is None else bool(mask.any())

    def index_figures(self, docs: list[dict]) -> None:
        if not docs:
            return
        with self._write() as conn:
            dims_text = self._meta(conn, "dims")
            dims = int(dims_text) if dims_text else None
            if dims is None:
                first = next((len(d[f]) for d in docs for f in documents.VECTOR_FIELDS
                              if isinstance(d, dict) and d.get(f)), None)
                dims = first
            prepared = [documents.prepare(d, dims) for d in docs]
            if dims and not dims_text and any(p[f] for p in prepared for f in documents.VECTOR_FIELDS):
                conn.execute("INSERT OR REPLACE INTO meta VALUES ('dims', ?)", (str(dims),))
            for doc in prepared:
                old = conn.execute("SELECT id FROM figures WHERE figure_id = ?", (doc["figure_id"],)).fetchone()
                if old:
                    conn.execute("DELETE FROM figures_fts WHERE rowid = ?", (old[0],))
                    conn.execute("DELETE FROM figures_lang WHERE rowid = ?", (old[0],))
                    conn.execute("DELETE FROM figures WHERE id = ?", (old[0],))
                keys = {f: doc.get(f) for f in (*KEYWORD_FIELDS, *documents.DATE_FIELDS.values())}
                stored = {k: v for k, v in doc.items()
                          if k not in documents.VECTOR_FIELDS and k != documents.DENSE_FIELD}
                cur = conn.execute(
                    "INSERT INTO figures (figure_id, publication_number, figure_number, doc, keys, image_vector, "
                    "text_vector) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (doc["figure_id"], doc["publication_number"], doc["figure_number"],
                     json.dumps(stored, ensure_ascii=False), json.dumps(keys, ensure_ascii=False),
                     _blob(doc["image_vector"]), _blob(doc["text_vector"])))
                if doc[documents.DENSE_FIELD] is not None:
                    conn.execute("UPDATE figures SET dense_vector = ? WHERE id = ?",
                                 (_blob(doc[documents.DENSE_FIELD]), cur.lastrowid))
                conn.execute(f"INSERT INTO figures_fts (rowid, {', '.join(FTS_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?)",
                             (cur.lastrowid, *(_fts_text(doc[c]) for c in FTS_COLUMNS)))
                _index_languages(conn, cur.lastrowid, doc)
            self._bump(conn)

    def delete_patent(self, publication_number: str) -> int:
        keys = lookup_keys(publication_number, any_kind=False)
        marks = ",".join("?" * len(keys))
        with self._write() as conn:
            ids = [r[0] for r in conn.execute(f"SELECT id FROM figures WHERE publication_number IN ({marks})", keys)]
            for rowid in ids:
                conn.execute("DELETE FROM figures_fts WHERE rowid = ?", (rowid,))
                conn.execute("DELETE FROM figures_lang WHERE rowid = ?", (rowid,))
            conn.execute(f"DELETE FROM figures WHERE publication_number IN ({marks})", keys)
            if ids:
                self._bump(conn)
        return len(ids)

    def refresh(self) -> None:
        """Writes are visible once committed; this only reloads the in-memory snapshot."""
        self._current()

    def clear(self) -> None:
        with self._write() as conn:
            conn.execute("DELETE FROM figures_fts")
            conn.execute("DELETE FROM figures_lang")
            conn.execute("DELETE FROM figures")
            conn.execute("DELETE FROM meta WHERE key = 'dims'")
            self._bump(conn)

    def get_figure(self, figure_id: str) -> dict | None:
        row = self._conn().execute("SELECT doc, image_vector, text_vector FROM figures WHERE figure_id = ?",
                                   (figure_id,)).fetchone()
        return _public(row) if row else None

    def get_patent_figures(self, publication_number: str) -> list[dict]:
        """The figures of the patent, found by any spelling of its number (patent_numbers.lookup_keys)."""
        keys = lookup_keys(publication_number)
        if not keys:
            return []
        rows = self._conn().execute(
            f"SELECT publication_number, doc, image_vector, text_vector FROM figures WHERE publication_number IN "
            f"({','.join('?' * len(keys))}) ORDER BY figure_number, figure_id", keys).fetchall()
        chosen = pick([r[0] for r in rows], keys)
        return [_public(r[1:]) for r in rows if r[0] == chosen]

    def family_members(self, family_id: str) -> list[dict]:
        snap = self._current()
        pubs = sorted({p for p, f in zip(snap.pubs, snap.families) if f == family_id})[:MAX_FAMILY]
        out = []
        for pub in pubs:
            row = self._conn().execute("SELECT doc FROM figures WHERE publication_number = ? ORDER BY figure_number, "
                                       "figure_id LIMIT 1", (pub,)).fetchone()
            if row:
                doc = json.loads(row[0])
                out.append({k: doc.get(k) for k in FAMILY_MEMBER_FIELDS})
        return out

    def rebuild(self) -> int:
        """Rebuild the full-text index from the stored documents (what ``prism index reindex`` does here)."""
        with self._write() as conn:
            conn.execute("DELETE FROM figures_fts")
            conn.execute("DELETE FROM figures_lang")
            n = 0
            for rowid, doc_json in conn.execute("SELECT id, doc FROM figures").fetchall():
                doc = json.loads(doc_json)
                conn.execute(f"INSERT INTO figures_fts (rowid, {', '.join(FTS_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?)",
                             (rowid, *(_fts_text(doc.get(c)) for c in FTS_COLUMNS)))
                _index_languages(conn, rowid, doc)
                n += 1
            self._bump(conn)
        return n

    def encoder_ids(self) -> dict[str | None, int]:
        """``model_id`` -> number of figures with a vector (None: vectors of unrecorded origin)."""
        rows = self._conn().execute(
            "SELECT json_extract(doc, '$.model_id'), count(*) FROM figures "
            "WHERE image_vector IS NOT NULL OR text_vector IS NOT NULL GROUP BY 1").fetchall()
        return {m or None: int(n) for m, n in rows}

    def reembed(self, transform, target: str, dims: int, progress=None, batch: int = 256) -> dict:
        """Re-embed every figure with ``transform`` (:class:`backend.search.index.reembed.Reembedder`), resumably:
        new vectors are staged in the ``reembed`` table in small transactions (an interrupted run
        continues where it stopped), then one transaction re-encodes what changed meanwhile, swaps the
        vectors and ``model_id`` in, and sets the index dims. Until then searches see the old vectors."""
        conn = self._conn()
        with self._write() as w:
            w.execute("CREATE TABLE IF NOT EXISTS reembed (id INTEGER PRIMARY KEY, target TEXT NOT NULL, "
                      "model_id TEXT, image_vector BLOB, text_vector BLOB)")
            w.execute("DELETE FROM reembed WHERE target != ?", (target,))   # a run for another encoder
        total = int(conn.execute("SELECT count(*) FROM figures").fetchone()[0])
        done = resumed = int(conn.execute("SELECT count(*) FROM reembed").fetchone()[0])
        after = 0
        while True:
            rows = conn.execute(
                "SELECT f.id, f.doc, f.image_vector, f.text_vector FROM figures f LEFT JOIN reembed r ON r.id = f.id "
                "WHERE f.id > ? AND r.id IS NULL ORDER BY f.id LIMIT ?", (after, batch)).fetchall()
            if not rows:
                break
            staged = self._reembed_rows(rows, transform, target)
            with self._write() as w:
                w.executemany("INSERT OR REPLACE INTO reembed VALUES (?, ?, ?, ?, ?)", staged)
            after = rows[-1][0]
            done += len(rows)
            if progress:
                progress(min(done, total), total)
        with self._write() as w:
            late = w.execute("SELECT f.id, f.doc, f.image_vector, f.text_vector FROM figures f LEFT JOIN reembed r "
                             "ON r.id = f.id WHERE r.id IS NULL").fetchall()   # ingested during the run
            w.executemany("INSERT OR REPLACE INTO reembed VALUES (?, ?, ?, ?, ?)",
                          self._reembed_rows(late, transform, target))
            changed = w.execute(
                "UPDATE figures SET image_vector = r.image_vector, text_vector = r.text_vector, "
                "doc = json_set(doc, '$.model_id', r.model_id) FROM reembed r WHERE figures.id = r.id").rowcount
            w.execute("DROP TABLE reembed")
            w.execute("INSERT OR REPLACE INTO meta VALUES ('dims', ?)", (str(dims),))
            self._bump(w)
        self._current()
        return {"documents": changed, "resumed": resumed, "late": len(late), "dims": dims, "model_id": target}

    @staticmethod
    def _reembed_rows(rows: list[tuple], transform, target: str) -> list[tuple]:
        docs = []
        for _id, doc_json, image, text in rows:
            doc = json.loads(doc_json)
            doc["image_vector"] = np.frombuffer(image, dtype=np.float32).tolist() if image is not None else None
            doc["text_vector"] = np.frombuffer(text, dtype=np.float32).tolist() if text is not None else None
            docs.append(doc)
        out = transform(docs) if docs else []
        return [(row[0], target, doc.get("model_id"), _blob(doc.get("image_vector")), _blob(doc.get("text_vector")))
                for row, doc in zip(rows, out)]

    # -- search -------------------------------------------------------------------------------
    def _current(self) -> _Snapshot:
        conn = self._conn()
        gen = int(self._meta(conn, "generation") or 0)
        snap = self._snapshot
        if snap is not None and self._snapshot_gen == gen:
            return snap
        with self._lock:
            if self._snapshot is None or self._snapshot_gen != gen:
                conn.execute("BEGIN")
                try:
                    gen = int(self._meta(conn, "generation") or 0)
                    dims_text = self._meta(conn, "dims")
                    rows = conn.execute("SELECT id, figure_id, publication_number, keys, image_vector FROM figures "
                                        "ORDER BY id").fetchall()
                finally:
                    conn.execute("COMMIT")
                self._snapshot = _Snapshot(rows, int(dims_text) if dims_text else None)
                self._snapshot_gen = gen
                if len(self._snapshot) >= self.parallel_min_rows:
                    self.prewarming = threading.Thread(target=self._prewarm, args=(self._snapshot,), daemon=True,
                                                       name="prism-embedded-prewarm")
                    self.prewarming.start()
            return self._snapshot

    def _prewarm(self, snap: _Snapshot) -> None:
        """Read the postings of the English words in at least :data:`PREWARM_SHARE` of the figures ahead
        (in a worker thread, after a new snapshot): a first query with a common word then does not wait for
        them. Stop words are left out (queries drop them)."""
        from backend.search.pipeline.engine import STOP_WORDS

        try:
            conn = self._conn()
            skip = {t for w in STOP_WORDS for t in fts_bm25.tokens(conn, FTS_TOKENIZE, w)}
            if snap is self._snapshot:
                read = snap.text_index("figures_fts", FTS_TOKENIZE).prewarm(conn, PREWARM_SHARE, skip)
                log.debug("embedded search: postings of %d common words read ahead", read)
        except sqlite3.Error as exc:   # only a cache: the queries read what they need themselves
            log.warning("embedded search: reading common words ahead failed: %s", exc)

    def _retrieve(self, query: Query) -> tuple[list[Candidate], list[Candidate]]:
        snap = self._current()
        if not len(snap):
            return [], []
        mask = snap.mask(query.spec)
        if len(snap) < self.parallel_min_rows or not query.terms:
            return self._bm25(snap, query, mask), self._knn(snap, query, mask)
        # large index: the nearest vectors and the unranked matches (what the total counts, _text_count)
        # are read in other threads while FTS5 ranks the text (sqlite3 and faiss release the GIL)
        pool = self._workers()
        knn = pool.submit(self._knn, snap, query, mask) if query.vector is not None else None
        if query.node is None and self._plain_scores(snap, query) is None:
            query._pending_matches = (snap, pool.submit(self._matches, snap, query, mask))
        bm25 = self._bm25(snap, query, mask)
        return bm25, (knn.result() if knn is not None else [])

    def _workers(self) -> ThreadPoolExecutor:
        if self._pool is None:
            with self._lock:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(2, thread_name_prefix="prism-embedded-search")
        return self._pool

    def _bm25(self, snap: _Snapshot, query: Query, mask: np.ndarray | None) -> list[Candidate]:
        """FTS5 returns matches best first; we read them in growing chunks until ``window`` of them (or
        patents, when grouping) pass the filter: the exact top of the filtered ranking, cheaply."""
        if not query.terms:
            return []
        if query.node is not None:      # the query language (operators, fields, phrases, truncation)
            return self._bm25_top(snap, self._ql_rows(snap, query), mask, query)
        fast = self._plain_scores(snap, query)
        if fast is not None:
            return self._top(snap, *fast, mask, query)
        sql, params = self._plain_sql(query)
        if sql is None:
            return []
        passing = len(snap) if mask is None else int(mask.sum())
        if passing == 0:
            return []
        selectivity = passing / max(len(snap), 1)
        limit = int(query.window / selectivity * (2 if query.group else 1.2)) + 16
        conn = self._conn()
        while True:
            rows = conn.execute(f"{sql} ORDER BY r LIMIT ?", (*params, limit)).fetchall()
            chosen = self._bm25_top(snap, rows, mask, query)
            exhausted = len(rows) < limit
            if exhausted or len(chosen) >= query.window:
                # entries tied with the last one might lie beyond the limit: only safe if exhausted or
                # the last fetched score is strictly worse than the last chosen
                if exhausted or not chosen or -rows[-1][1] < chosen[-1].score:
                    return chosen
            limit *= 4

    def _plain_sql(self, query: Query, ranked: bool = True) -> tuple[str | None, list[str]]:
        """The SQL of (rowid, r = bm25) rows matching plain words in the request's languages: English in
        ``figures_fts``, German/French tokens in ``figures_lang`` (scores of both added, as ES's bool
        ``should`` does); (None, []) when nothing can match. Not ``ranked``: (rowid,) rows, each once, no
        bm25 computed (what counting needs: several times cheaper on common words)."""
        parts, params = [], []
        if query.english:
            weights = ", ".join(str(w) for w in text_fields.fts_weights())
            score = f", bm25(figures_fts, {weights}) AS r" if ranked else ""
            parts.append(f"SELECT rowid{score} FROM figures_fts WHERE figures_fts MATCH ?")
            params.append(_match(query.terms))
        if query.other_languages and self._has_languages(self._current()) and query.lang_terms:
            weights = ", ".join(str(languages.weight(c)) for c in LANG_COLUMNS)
            score = f", bm25(figures_lang, {weights}) AS r" if ranked else ""
            parts.append(f"SELECT rowid{score} FROM figures_lang WHERE figures_lang MATCH ?")
            params.append(" OR ".join("{" + " ".join(languages.field(lang, p) for p in languages.PARTS) + "} : ("
                                      + _match(tokens) + ")" for lang, tokens in query.lang_terms.items()))
        if len(parts) < 2:
            return (parts[0] if parts else None), params
        if not ranked:
            return " UNION ".join(parts), params
        return f"SELECT rowid, sum(r) AS r FROM ({' UNION ALL '.join(parts)}) GROUP BY rowid", params

    def _has_languages(self, snap: _Snapshot | None = None) -> bool:
        """Whether any figure has German or French text (else the per-language table is not asked); once
        per snapshot when one is given."""
        if snap is not None and snap.has_languages is not None:
            return snap.has_languages
        found = self._conn().execute("SELECT rowid FROM figures_lang LIMIT 1").fetchone() is not None
        if snap is not None:
            snap.has_languages = found
        return found

    def _plain_scores(self, snap: _Snapshot, query: Query) -> tuple[np.ndarray, np.ndarray] | None:
        """(positions, scores) of every figure matching plain words, unfiltered, from the postings in
        memory (:mod:`.fts_bm25`: FTS5's bm25, English and German/French summed as the SQL does); None when
        a word is a phrase to FTS5 (the SQL path then). Kept on ``query`` (ranking, count and tail ask)."""
        cached = getattr(query, "_plain_scores_of", None)
        if cached is not None and cached[0] is snap:
            return cached[1]
        conn = self._conn()
        parts = []
        if query.english:
            parts.append(fts_bm25.score(conn, snap.text_index("figures_fts", FTS_TOKENIZE), list(query.terms),
                                        text_fields.fts_weights()))
        if query.other_languages and query.lang_terms and self._has_languages(snap):
            col = {c: i for i, c in enumerate(LANG_COLUMNS)}
            phrases, allowed = [], []
            for lang, tokens in query.lang_terms.items():
                cols = {col[languages.field(lang, p)] for p in languages.PARTS}
                phrases += list(tokens)
                allowed += [cols] * len(tokens)
            parts.append(fts_bm25.score(conn, snap.text_index("figures_lang", LANG_TOKENIZE), phrases,
                                        [languages.weight(c) for c in LANG_COLUMNS], allowed))
        result = None
        if all(p is not None for p in parts):
            if len(parts) == 1:
                result = parts[0]
            elif not parts:
                result = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64))
            else:       # English + German/French: summed per figure, English first (as the SQL's sum)
                pos = np.union1d(parts[0][0], parts[1][0])
                scores = np.zeros(len(pos), dtype=np.float64)
                for part_pos, part_scores in parts:
                    scores[np.searchsorted(pos, part_pos)] += part_scores
                result = (pos, scores)
        query._plain_scores_of = (snap, result)
        return result

    @staticmethod
    def _top(snap: _Snapshot, pos: np.ndarray, scores: np.ndarray, mask: np.ndarray | None,
             query: Query) -> list[Candidate]:
        """The first ``window`` figures (or patents) of the filtered ranking by (score desc, figure id asc),
        sorting only a prefix of it: the best ``m`` scores and every tie of the m-th."""
        if mask is not None:
            keep = mask[pos]
            pos, scores = pos[keep], scores[keep]
        want = query.window * (4 if query.group else 1)
        while True:
            if len(pos) > want:
                idx = np.argpartition(-scores, want - 1)[:want]
                idx = np.flatnonzero(scores >= scores[idx].min())
            else:
                idx = np.arange(len(pos))
            sub_pos, sub_scores = pos[idx], scores[idx]
            order = snap.ordered(sub_pos, sub_scores)
            if not query.group:
                return [snap.candidate(int(sub_pos[i]), sub_scores[i]) for i in order[:query.window]]
            chosen = _dedupe_positions([int(sub_pos[i]) for i in order], snap.groups(query.group_field),
                                       query.window)
            if len(chosen) >= query.window or len(idx) == len(pos):
                by_pos = dict(zip(sub_pos.tolist(), sub_scores.tolist()))
                return [snap.candidate(p, by_pos[p]) for p in chosen]
            want *= 4

    @staticmethod
    def _bm25_top(snap: _Snapshot, rows: list, mask: np.ndarray | None, query: Query) -> list[Candidate]:
        return EmbeddedBackend._top(snap, *_row_arrays(snap, rows), mask, query) if rows else []

    def _ql_rows(self, snap: _Snapshot, query: Query) -> list[tuple[int, float]]:
        """(rowid, bm25) of every figure matching a query-language query (:mod:`.query_language.to_fts5`)."""
        from backend.search.query_language import to_fts5

        cached = getattr(query, "_ql_rows", None)      # one search asks up to three times (head, count, tail)
        if cached is not None and cached[0] is snap:
            return cached[1]
        weights = ", ".join(str(w) for w in text_fields.fts_weights())
        rows = to_fts5.rows(self._conn(), "figures_fts", snap, query.node, weights, FTS_TOKENIZE)
        query._ql_rows = (snap, rows)
        return rows

    def _snippets(self, query: Query, figure_ids: list[str]) -> dict[str, dict[str, str]]:
        from backend.search.query_language import to_fts5

        if not query.english:   # the snippets mark words of the main (English) fields
            return {}
        expression = to_fts5.score_expr(query.node) if query.node is not None else _match(query.terms)
        marks = ",".join("?" * len(figure_ids))
        rowids = dict(self._conn().execute(f"SELECT id, figure_id FROM figures WHERE figure_id IN ({marks})",
                                           figure_ids).fetchall())
        return to_fts5.snippets(self._conn(), "figures_fts", FTS_COLUMNS, expression, rowids)

    def _matches(self, snap: _Snapshot, query: Query, mask: np.ndarray | bool | None = False) -> np.ndarray:
        """Snapshot positions of every figure matching the text and passing the filters (no ranking);
        ``mask``: the filters' mask when already computed."""
        if mask is False:
            mask = snap.mask(query.spec)
        fast = self._plain_scores(snap, query) if query.node is None else None
        if fast is not None:
            pos = fast[0]
            return pos[mask[pos]] if mask is not None else pos
        rows = self._ql_rows(snap, query) if query.node is not None else self._plain_rows(query, ranked=False)
        pos, _ok = fts_bm25.positions(snap.ids, np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)))
        return pos[mask[pos]] if mask is not None else pos

    def _text_count(self, query: Query, keys: list[str]) -> tuple[int, str, set[str]]:
        snap = self._current()
        if not len(snap) or not query.terms:
            return 0, "eq", set()
        pending = getattr(query, "_pending_matches", None)   # read beside the ranking (_retrieve)
        pos = pending[1].result() if pending is not None and pending[0] is snap else self._matches(snap, query)
        if not query.group:   # one row per figure: positions are distinct; only the few keys are looked up
            hit = np.zeros(len(snap), dtype=bool)
            hit[pos] = True
            return len(pos), "eq", {k for k in keys if k in snap.pos_of and hit[snap.pos_of[k]]}
        codes, names = snap.group_codes(query.group_field)
        seen = np.zeros(len(names), dtype=bool)
        seen[codes[pos]] = True
        return int(seen.sum()), "eq", {k for k in keys if k in names and seen[names[k]]}

    def _text_after(self, query: Query, after: tuple[float, str], limit: int) -> list[Candidate]:
        """The full ranking of the filtered matches (FTS5 ``bm25()``), read after the keyset."""
        snap = self._current()
        if not len(snap) or not query.terms or limit <= 0:
            return []
        fast = self._plain_scores(snap, query) if query.node is None else None
        if fast is not None:
            pos, scores = fast
        else:
            rows = self._ql_rows(snap, query) if query.node is not None else self._plain_rows(query)
            pos, scores = _row_arrays(snap, rows)
        mask = snap.mask(query.spec)
        if mask is not None:
            keep = mask[pos]
            pos, scores = pos[keep], scores[keep]
        order = snap.ordered(pos, scores)
        pos, scores = pos[order], scores[order]
        if query.group:
            seen: set[str] = set()
            groups = snap.groups(query.group_field)
            first = [i for i, p in enumerate(pos.tolist()) if not (groups[p] in seen or seen.add(groups[p]))]
            pos, scores = pos[first], scores[first]
        score, fid = after
        # strictly after (score desc, figure id asc)
        later = scores < score
        for i in np.flatnonzero(scores == score).tolist():
            later[i] = snap.figure_ids[int(pos[i])] > fid
        idx = np.flatnonzero(later)[:limit]
        return [snap.candidate(int(pos[i]), float(scores[i])) for i in idx]

    def _plain_rows(self, query: Query, ranked: bool = True) -> list[tuple]:
        """(rowid, bm25) of every figure matching plain words (:meth:`_plain_sql`), unordered; (rowid,)
        when not ``ranked``."""
        sql, params = self._plain_sql(query, ranked)
        return self._conn().execute(sql, params).fetchall() if sql else []

    def _knn(self, snap: _Snapshot, query: Query, mask: np.ndarray | None) -> list[Candidate]:
        if query.vector is None or not snap.dims:
            return []
        # exact: every figure that can be in the top window, with its float32 similarity (vector_scan.py)
        pos, sims = snap.scan.search(query.vector, query.window, mask, query.similarity_floor)
        k = min(query.window, len(pos))
        if k == 0:
            return []
        if k < len(pos):
            top = np.argpartition(-sims, k - 1)[:k]
            # keep every entry tied with the k-th so the figure-id tie-break is exact
            kth = sims[top].min()
            top = np.flatnonzero(sims >= kth)
            pos, sims = pos[top], sims[top]
        order = snap.ordered(pos, sims)[:k]
        chosen = [snap.candidate(int(pos[i]), float(sims[i])) for i in order]
        if query.group:
            seen: set[str] = set()
            chosen = [c for c in chosen if not (c.key(query.group_field) in seen or seen.add(c.key(query.group_field)))]
        return chosen

    def _drawing_ranking(self, snap: _Snapshot, query: Query) -> tuple[np.ndarray, np.ndarray]:
        """(positions, float32 cosines) of the whole drawing ranking: every figure with a vector passing the
        filters and the similarity floor, by (cosine desc, figure id asc); grouped: each group's closest
        figure. One exact float32 pass; kept on ``query`` (the tail and the count both ask)."""
        cached = getattr(query, "_drawing_ranking_of", None)
        if cached is not None and cached[0] is snap:
            return cached[1]
        eligible = snap.mask(query.spec)
        if not snap.all_vectors:
            eligible = snap.has_vec if eligible is None else eligible & snap.has_vec
        pos = np.arange(len(snap)) if eligible is None else np.flatnonzero(eligible)
        sims = (snap.vectors @ query.vector.astype(np.float32))[pos]
        if query.similarity_floor is not None:
            keep = sims >= query.similarity_floor
            pos, sims = pos[keep], sims[keep]
        order = snap.ordered(pos, sims)
        pos, sims = pos[order], sims[order]
        if query.group:
            codes, _names = snap.group_codes(query.group_field)
            _unique, first = np.unique(codes[pos], return_index=True)
            first.sort()
            pos, sims = pos[first], sims[first]
        query._drawing_ranking_of = (snap, (pos, sims))
        return pos, sims

    def _vector_after(self, query: Query, after: tuple[float, str] | None, limit: int) -> list[Candidate]:
        snap = self._current()
        if query.vector is None or not snap.dims or not len(snap) or limit <= 0:
            return []
        pos, sims = self._drawing_ranking(snap, query)
        start = 0
        if after is not None:     # strictly after (cosine desc, figure id asc): bisect on the sorted ranking
            score, fid = after
            start = int(np.searchsorted(-sims, -np.float32(score), side="left"))
            while start < len(pos) and float(sims[start]) == score and snap.figure_ids[int(pos[start])] <= fid:
                start += 1
        return [snap.candidate(int(p), float(v)) for p, v in zip(pos[start:start + limit], sims[start:start + limit])]

    def _vector_count(self, query: Query, keys: list[str]) -> tuple[int, str, set[str]]:
        snap = self._current()
        if query.vector is None or not snap.dims or not len(snap):
            return 0, "eq", set()
        if query.similarity_floor is None:   # who is ranked needs no cosine: the first page sorts nothing
            eligible = snap.mask(query.spec)
            if not snap.all_vectors:
                eligible = snap.has_vec if eligible is None else eligible & snap.has_vec
            pos = np.arange(len(snap)) if eligible is None else np.flatnonzero(eligible)
        else:
            pos, _sims = self._drawing_ranking(snap, query)
        if query.group:
            codes, names = snap.group_codes(query.group_field)
            seen = np.zeros(len(names), dtype=bool)
            seen[codes[pos]] = True
            return int(seen.sum()), "eq", {k for k in keys if k in names and seen[names[k]]}
        hit = np.zeros(len(snap), dtype=bool)
        hit[pos] = True
        return len(pos), "eq", {k for k in keys if k in snap.pos_of and hit[snap.pos_of[k]]}

    # -- dense text vectors (backend/search/text/dense_text.py) --------------------------------------
    def _ensure_dense_column(self) -> None:
        """Indexes made before the MiniLM text vectors gain the column (an additive change: old rows
        simply have none until re-ingested)."""
        conn = self._conn()
        columns = {r[1] for r in conn.execute("PRAGMA table_info(figures)")}
        if "dense_vector" not in columns:
            with self._write() as wconn:
                columns = {r[1] for r in wconn.execute("PRAGMA table_info(figures)")}
                if "dense_vector" not in columns:
                    wconn.execute("ALTER TABLE figures ADD COLUMN dense_vector BLOB")

    def _dense_matrix(self, snap: _Snapshot) -> tuple[np.ndarray, np.ndarray]:
        """(snapshot positions, normalised vectors) of the figures that have a dense text vector."""
        gen = self._snapshot_gen
        cached = self._dense_cache
        if cached is not None and cached[0] == gen:
            return cached[1], cached[2]
        rows = self._conn().execute("SELECT id, dense_vector FROM figures WHERE dense_vector IS NOT NULL "
                                    "ORDER BY id").fetchall()
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        pos = np.searchsorted(snap.ids, ids)
        ok = (pos < len(snap)) & (snap.ids[np.minimum(pos, max(len(snap) - 1, 0))] == ids)
        mat = np.zeros((int(ok.sum()), documents.DENSE_DIMS), dtype=np.float32)
        for i, j in enumerate(np.flatnonzero(ok).tolist()):
            mat[i] = np.frombuffer(rows[j][1], dtype=np.float32)
        norms = np.linalg.norm(mat, axis=1, keepdims=True)
        mat /= np.where(norms > 0, norms, 1.0)
        self._dense_cache = (gen, pos[ok], mat)
        return pos[ok], mat

    def _dense(self, query: Query, vector: np.ndarray) -> list[Candidate]:
        snap = self._current()
        if not len(snap):
            return []
        pos, mat = self._dense_matrix(snap)
        mask = snap.mask(query.spec)
        if mask is not None:
            keep = mask[pos]
            pos, mat = pos[keep], mat[keep]
        if not len(pos):
            return []
        sims = mat @ vector
        floor = self.settings.search_dense_min_similarity
        keep = sims >= floor
        pos, sims = pos[keep], sims[keep]
        order = snap.ordered(pos, sims)
        chosen = [int(pos[i]) for i in order]
        if query.group:   # every figure of a patent has its vector: the patent's first figure stands for it
            chosen = _dedupe_positions(chosen, snap.pubs, query.window)
        by_pos = dict(zip(pos.tolist(), sims.tolist()))
        return [snap.candidate(p, by_pos[p]) for p in chosen[:query.window]]

    def _hydrate(self, figure_ids: list[str]) -> dict[str, dict]:
        out = {}
        conn = self._conn()
        for start in range(0, len(figure_ids), 500):
            chunk = figure_ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for fid, doc_json in conn.execute(f"SELECT figure_id, doc FROM figures WHERE figure_id IN ({marks})",
                                              chunk):
                doc = json.loads(doc_json)
                out[fid] = {k: doc.get(k) for k in documents.HIT_FIELDS}
        return out


def _match(terms: list[str]) -> str:
    """An FTS5 query matching any of ``terms`` (each quoted)."""
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)


def _index_languages(conn, rowid: int, doc: dict) -> None:
    """The figure's analysed German/French fields into ``figures_lang`` (only when it has any)."""
    values = [str(doc.get(c) or "") for c in LANG_COLUMNS]
    if any(values):
        conn.execute(f"INSERT INTO figures_lang (rowid, {', '.join(LANG_COLUMNS)}) VALUES "
                     f"(?, {', '.join('?' * len(LANG_COLUMNS))})", (rowid, *values))


def _blob(vector: list[float] | None) -> bytes | None:
    return None if vector is None else np.asarray(vector, dtype=np.float32).tobytes()


def _fts_text(value) -> str:
    if isinstance(value, list):
        return "\n".join(str(v) for v in value)
    return str(value or "")


def _public(row: tuple) -> dict:
    doc = json.loads(row[0])
    doc["image_vector"] = np.frombuffer(row[1], dtype=np.float32).tolist() if row[1] is not None else None
    doc["text_vector"] = np.frombuffer(row[2], dtype=np.float32).tolist() if row[2] is not None else None
    return documents.public(doc)
