"""The embedded store: one SQLite file under ``settings.resolved_embedded_dir`` (WAL mode, so the API and a
worker may share it) holding the figure documents, their vectors and two FTS5 tables (English; German/French
analysed in Python). Writes bump a stored generation; :meth:`EmbeddedStore.snapshot` keeps the current
generation in memory (:mod:`.snapshot`)."""
from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from tenacity import retry, retry_if_exception_message, stop_after_delay, wait_random

from backend.patent_numbers import lookup_keys, pick
from backend.search.backends.embedded import fts_bm25
from backend.search.backends.embedded.snapshot import KEYWORD_FIELDS, Snapshot
from backend.search.errors import IndexVersionError
from backend.search.index import documents
from backend.search.pipeline.candidates import FAMILY_MEMBER_FIELDS, MAX_FAMILY, SCHEME_FIELDS
from backend.search.pipeline.filters import FilterSpec
from backend.search.text import languages, text_fields
from backend.settings import Settings

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
DB_NAME = "figures.sqlite3"
#: BM25 column weights, in the FTS table's column order (same boosts as the ES multi_match)
FTS_COLUMNS = documents.TEXT_FIELDS
FTS_WEIGHTS = text_fields.FIELD_WEIGHTS   # the shared table (same dict: changes apply to both)
#: from this many figures a hybrid search reads its lists in parallel threads (below, the hand-off costs more)
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


class EmbeddedStore:
    """The SQLite store of the embedded backend: writes, look-ups, and the in-memory snapshot."""

    def __init__(self, settings: Settings, directory: Path | None = None):
        self.settings = settings
        self.directory = Path(directory or settings.resolved_embedded_dir)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / DB_NAME
        self._local = threading.local()
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self.snapshot_gen: int | None = None
        self.conn().executescript(_SCHEMA)
        self._ensure_dense_column()
        self.dense_cache: tuple[int, np.ndarray, np.ndarray] | None = None
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

    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            _wal(conn)
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    @contextmanager
    def _write(self):
        conn = self.conn()
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

    def dims(self, fresh: bool = False) -> int | None:   # always read from the database
        value = self._meta(self.conn(), "dims")
        return int(value) if value else None

    def count(self) -> int:
        return int(self.conn().execute("SELECT count(*) FROM figures").fetchone()[0])

    def carries_scheme(self, scheme: str) -> bool:
        return bool(self.snapshot().postings.get(SCHEME_FIELDS[scheme]))

    def any_match(self, spec: FilterSpec) -> bool:
        snap = self.snapshot()
        mask = snap.mask(spec)
        return bool(len(snap)) if mask is None else bool(mask.any())

    def index_figures(self, docs: list[dict], remove: Sequence[str] = ()) -> None:
        """Index ``docs`` (replacing figures of the same id); ``remove``: figure ids deleted in the same
        transaction (a sheet replaced by its figure regions)."""
        if not docs and not remove:
            return
        with self._write() as conn:
            for old_id in remove:
                gone = conn.execute("SELECT id FROM figures WHERE figure_id = ?", (old_id,)).fetchone()
                if gone:
                    conn.execute("DELETE FROM figures_fts WHERE rowid = ?", (gone[0],))
                    conn.execute("DELETE FROM figures_lang WHERE rowid = ?", (gone[0],))
                    conn.execute("DELETE FROM figures WHERE id = ?", (gone[0],))
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
        self.snapshot()

    def clear(self) -> None:
        with self._write() as conn:
            conn.execute("DELETE FROM figures_fts")
            conn.execute("DELETE FROM figures_lang")
            conn.execute("DELETE FROM figures")
            conn.execute("DELETE FROM meta WHERE key = 'dims'")
            self._bump(conn)

    def get_figure(self, figure_id: str) -> dict | None:
        row = self.conn().execute("SELECT doc, image_vector, text_vector FROM figures WHERE figure_id = ?",
                                   (figure_id,)).fetchone()
        return _public(row) if row else None

    def get_patent_figures(self, publication_number: str) -> list[dict]:
        """The figures of the patent, found by any spelling of its number (patent_numbers.lookup_keys)."""
        keys = lookup_keys(publication_number)
        if not keys:
            return []
        rows = self.conn().execute(
            f"SELECT publication_number, doc, image_vector, text_vector FROM figures WHERE publication_number IN "
            f"({','.join('?' * len(keys))}) ORDER BY figure_number, figure_id", keys).fetchall()
        chosen = pick([r[0] for r in rows], keys)
        return [_public(r[1:]) for r in rows if r[0] == chosen]

    def family_members(self, family_id: str) -> list[dict]:
        snap = self.snapshot()
        pubs = sorted({p for p, f in zip(snap.pubs, snap.families) if f == family_id})[:MAX_FAMILY]
        out = []
        for pub in pubs:
            row = self.conn().execute("SELECT doc FROM figures WHERE publication_number = ? ORDER BY figure_number, "
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
        rows = self.conn().execute(
            "SELECT json_extract(doc, '$.model_id'), count(*) FROM figures "
            "WHERE image_vector IS NOT NULL OR text_vector IS NOT NULL GROUP BY 1").fetchall()
        return {m or None: int(n) for m, n in rows}

    def reembed(self, transform, target: str, dims: int, progress=None, batch: int = 256) -> dict:
        """Re-embed every figure with ``transform``, resumably (:func:`.reembedding.reembed`)."""
        from backend.search.backends.embedded.reembedding import reembed

        return reembed(self, transform, target, dims, progress, batch)

    def snapshot(self) -> Snapshot:
        conn = self.conn()
        gen = int(self._meta(conn, "generation") or 0)
        snap = self._snapshot
        if snap is not None and self.snapshot_gen == gen:
            return snap
        with self._lock:
            if self._snapshot is None or self.snapshot_gen != gen:
                conn.execute("BEGIN")
                try:
                    gen = int(self._meta(conn, "generation") or 0)
                    dims_text = self._meta(conn, "dims")
                    rows = conn.execute("SELECT id, figure_id, publication_number, keys, image_vector FROM figures "
                                        "ORDER BY id").fetchall()
                finally:
                    conn.execute("COMMIT")
                self._snapshot = Snapshot(rows, int(dims_text) if dims_text else None)
                self.snapshot_gen = gen
                if len(self._snapshot) >= self.parallel_min_rows:
                    self.prewarming = threading.Thread(target=self._prewarm, args=(self._snapshot,), daemon=True,
                                                       name="prism-embedded-prewarm")
                    self.prewarming.start()
            return self._snapshot

    def _prewarm(self, snap: Snapshot) -> None:
        """Read the postings of the English words in at least :data:`PREWARM_SHARE` of the figures ahead
        (in a worker thread, after a new snapshot): a first query with a common word then does not wait for
        them. Stop words are left out (queries drop them)."""
        from backend.search.text.stop_words import STOP_WORDS

        try:
            conn = self.conn()
            skip = {t for w in STOP_WORDS for t in fts_bm25.tokens(conn, FTS_TOKENIZE, w)}
            if snap is self._snapshot:
                read = snap.text_index("figures_fts", FTS_TOKENIZE).prewarm(conn, PREWARM_SHARE, skip)
                log.debug("embedded search: postings of %d common words read ahead", read)
        except sqlite3.Error as exc:   # only a cache: the queries read what they need themselves
            log.warning("embedded search: reading common words ahead failed: %s", exc)

    def _ensure_dense_column(self) -> None:
        """Indexes made before the MiniLM text vectors gain the column (an additive change: old rows
        simply have none until re-ingested)."""
        conn = self.conn()
        columns = {r[1] for r in conn.execute("PRAGMA table_info(figures)")}
        if "dense_vector" not in columns:
            with self._write() as wconn:
                columns = {r[1] for r in wconn.execute("PRAGMA table_info(figures)")}
                if "dense_vector" not in columns:
                    wconn.execute("ALTER TABLE figures ADD COLUMN dense_vector BLOB")

    def has_languages(self, snap: Snapshot | None = None) -> bool:
        """Whether any figure has German or French text (else the per-language table is not asked); once
        per snapshot when one is given."""
        if snap is not None and snap.has_languages is not None:
            return snap.has_languages
        found = self.conn().execute("SELECT rowid FROM figures_lang LIMIT 1").fetchone() is not None
        if snap is not None:
            snap.has_languages = found
        return found


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


@retry(retry=retry_if_exception_message(match="database is locked"), stop=stop_after_delay(30),
       wait=wait_random(0.05, 0.5), reraise=True)
def _wal(conn: sqlite3.Connection) -> None:
    """Write-ahead logging. Switching a new file to it takes an exclusive lock that SQLite does not wait for
    (the busy timeout does not apply): processes opening the same new index at once (gunicorn's workers
    booting) retry until the first has switched it."""
    conn.execute("PRAGMA journal_mode=WAL")
