"""FTS5's ``bm25()`` for plain words, computed in NumPy from FTS5's own postings.

``ORDER BY bm25(...) LIMIT k`` makes SQLite score and sort every matching row: at 100,000 figures a
query with a common word spends most of its time there, and counting the matches walks them again.
Here the same numbers come from the index FTS5 already keeps: each query word is tokenised by FTS5
itself (a one-row table with the same tokenizer), its postings (row, column) are read once through
``fts5vocab`` (instance) and kept per snapshot, and the score of every matching row is a few vector
operations. The formula and its order of operations are FTS5's (``fts5_aux.c``)::

    idf    = log((N - nHit + 0.5) / (nHit + 0.5)), or 1e-6 when that is <= 0
    freq   = sum of the column weights of the row's instances of the word
    score += idf * (freq * (k1 + 1)) / (freq + k1 * (1 - b + b * D / avgdl))      (k1 1.2, b 0.75)

with N the table's rows, D the row's tokens in all columns and avgdl their mean, so rankings, ties
and totals are those of the SQL path (tests compare both). Only single-token words are handled;
a word FTS5 splits into a phrase (``x_ray``) makes the caller use SQL.
"""
from __future__ import annotations

import math
import sqlite3
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

K1, B = 1.2, 0.75
#: postings kept per snapshot and table (instances, 5 bytes each, all words together); least recently used go first
MAX_CACHED_INSTANCES = 40_000_000
#: tokenisations kept (query word -> FTS5 tokens), shared by every snapshot
MAX_CACHED_WORDS = 50_000

_TOKENS: OrderedDict[tuple[str, str], tuple[str, ...]] = OrderedDict()
_TOKENS_LOCK = threading.Lock()


def tokens(conn: sqlite3.Connection, tokenize: str, word: str) -> tuple[str, ...]:
    """The tokens FTS5 makes of ``word`` with ``tokenize`` (the same stemming and folding as the index)."""
    key = (tokenize, word)
    with _TOKENS_LOCK:
        hit = _TOKENS.get(key)
        if hit is not None:
            _TOKENS.move_to_end(key)
            return hit
    name = "prism_tok_" + "".join(c if c.isalnum() else "_" for c in tokenize)
    conn.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.{name} USING fts5(x, tokenize = '{tokenize}')")
    conn.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.{name}_v USING fts5vocab(temp, {name}, instance)")
    conn.execute(f"INSERT INTO temp.{name} (rowid, x) VALUES (1, ?)", (word,))
    try:
        found = tuple(t for (t,) in conn.execute(f"SELECT term FROM temp.{name}_v ORDER BY offset"))
    finally:
        conn.execute(f"DELETE FROM temp.{name} WHERE rowid = 1")
    with _TOKENS_LOCK:
        _TOKENS[key] = found
        while len(_TOKENS) > MAX_CACHED_WORDS:
            _TOKENS.popitem(last=False)
    return found


@dataclass(frozen=True)
class Postings:
    """One token's instances in the rows the snapshot holds, in row order: snapshot position and column of
    each; ``n_rows``: the rows of the table holding it (what FTS5's idf counts)."""
    pos: np.ndarray         # int32, sorted
    columns: np.ndarray     # int8
    n_rows: int

    def only(self, allowed: set[int]) -> Postings:
        """The instances in the ``allowed`` columns (a column filter)."""
        keep = np.isin(self.columns, np.fromiter(allowed, dtype=np.int8))
        pos = self.pos[keep]
        return Postings(pos, self.columns[keep], int(np.count_nonzero(np.diff(pos))) + 1 if len(pos) else 0)


class TableStats:
    """What ``bm25()`` reads besides the postings, for one FTS5 table and one snapshot: the row count,
    the mean row size and each row's size, aligned with the snapshot's row ids."""

    def __init__(self, conn: sqlite3.Connection, table: str, ids: np.ndarray):
        rowids, sizes = [], []
        for rowid, blob in conn.execute(f"SELECT id, sz FROM {table}_docsize"):
            rowids.append(rowid)
            sizes.append(_row_size(blob))
        self.n_rows = len(rowids)
        total = float(sum(sizes))
        self.avgdl = total / self.n_rows if self.n_rows else 0.0
        rows = np.asarray(rowids, dtype=np.int64)
        self.sizes = np.zeros(len(ids), dtype=np.float64)   # per snapshot position
        pos, ok = positions(ids, rows)
        self.sizes[pos] = np.asarray(sizes, dtype=np.float64)[ok]
        #: the length part of the denominator, per position: k1 * (1 - b + b * D / avgdl)
        self.norm = K1 * ((1.0 - B) + (B * self.sizes) / self.avgdl) if self.avgdl else self.sizes


def _row_size(blob: bytes) -> int:
    """The row's tokens over all columns: the sum of the %_docsize varints (SQLite's big-endian 7-bit
    groups; almost always one byte each)."""
    if all(b < 0x80 for b in blob):
        return sum(blob)
    total = value = 0
    for b in blob:
        value = (value << 7) | (b & 0x7F)
        if not b & 0x80:
            total += value
            value = 0
    return total


def positions(ids: np.ndarray, rowids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(snapshot positions of the ``rowids`` the snapshot holds, mask of those rowids)."""
    if not len(ids):
        return np.zeros(0, dtype=np.int64), np.zeros(len(rowids), dtype=bool)
    pos = np.searchsorted(ids, rowids)
    ok = (pos < len(ids)) & (ids[np.minimum(pos, len(ids) - 1)] == rowids)
    return pos[ok], ok


def _numbers(text: str | None, dtype) -> np.ndarray:
    return np.fromstring(text, dtype=dtype, sep=",") if text else np.zeros(0, dtype=dtype)


class TableIndex:
    """The postings and statistics of one FTS5 table for one snapshot (thread-safe, filled on demand;
    :meth:`prewarm` reads the common words' ahead)."""

    def __init__(self, table: str, tokenize: str, ids: np.ndarray):
        self.table, self.tokenize, self.ids = table, tokenize, ids
        self._stats: TableStats | None = None
        self._cache: OrderedDict[str, Postings] = OrderedDict()
        self._cached = 0
        self._lock = threading.Lock()
        self._column_case: str | None = None
        self._local = threading.local()

    def buffers(self) -> tuple[np.ndarray, np.ndarray]:
        """This thread's score and match arrays over the snapshot, all zero (callers clear what they set):
        no fresh array of the index's size per query."""
        bufs = getattr(self._local, "bufs", None)
        if bufs is None:
            bufs = self._local.bufs = (np.zeros(len(self.ids), dtype=np.float64), np.zeros(len(self.ids), dtype=bool))
        return bufs

    def stats(self, conn: sqlite3.Connection) -> TableStats:
        if self._stats is None:
            stats = TableStats(conn, self.table, self.ids)
            with self._lock:
                self._stats = self._stats or stats
        return self._stats

    def _vocab(self, conn: sqlite3.Connection, kind: str) -> str:
        name = f"prism_vocab_{self.table}_{kind}"
        conn.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.{name} USING fts5vocab(main, {self.table}, {kind})")
        return f"temp.{name}"

    def postings(self, conn: sqlite3.Connection, token: str) -> Postings:
        with self._lock:
            hit = self._cache.get(token)
            if hit is not None:
                self._cache.move_to_end(token)
                return hit
        if self._column_case is None:
            names = [r[1] for r in conn.execute(f"PRAGMA table_info({self.table})")]
            self._column_case = "CASE col " + " ".join(f"WHEN '{c}' THEN {i}" for i, c in enumerate(names)) + " END"
        # two comma-separated lists parsed in C: several times faster than a row per instance
        docs, cols = conn.execute(f"SELECT group_concat(doc, ','), group_concat({self._column_case}, ',') "
                                  f"FROM {self._vocab(conn, 'instance')} WHERE term = ?", (token,)).fetchone()
        rowids = _numbers(docs, np.int64)
        columns = _numbers(cols, np.int8)
        pos, ok = positions(self.ids, rowids)
        found = Postings(pos.astype(np.int32), columns[ok],
                         int(np.count_nonzero(np.diff(rowids))) + 1 if len(rowids) else 0)
        with self._lock:
            if token not in self._cache:
                self._cache[token] = found
                self._cached += len(found.pos)
            while self._cached > MAX_CACHED_INSTANCES and len(self._cache) > 1:
                _token, old = self._cache.popitem(last=False)
                self._cached -= len(old.pos)
        return found

    def prewarm(self, conn: sqlite3.Connection, min_share: float, skip: set[str]) -> int:
        """Read ahead the postings of the tokens in at least ``min_share`` of the rows (those a first query
        would otherwise wait for longest), most common first, leaving out ``skip``; how many were read."""
        stats = self.stats(conn)
        floor = max(1, int(min_share * stats.n_rows))
        common = [t for (t,) in conn.execute(f"SELECT term FROM {self._vocab(conn, 'row')} WHERE doc >= ? "
                                             "ORDER BY doc DESC", (floor,)) if t not in skip]
        read = 0
        for token in common:
            if self._cached > MAX_CACHED_INSTANCES // 2:
                break
            self.postings(conn, token)
            read += 1
        return read


def score(conn: sqlite3.Connection, index: TableIndex, phrases: list[str], weights: list[float],
          columns: list[set[int] | None] | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """(positions, scores) of the snapshot rows matching ``phrases`` OR-ed (one token each, in query order)
    in ``index``'s table, scores as ``bm25(table, *weights)`` gives them (positive: FTS5 returns the
    negation); ``columns[i]``: the columns phrase ``i`` is restricted to (``{cols} : ...``), None for all.
    None when a phrase is not a single token (the caller falls back to SQL)."""
    toks = []
    for phrase in phrases:
        found = tokens(conn, index.tokenize, phrase)
        if len(found) > 1:
            return None
        toks.append(found[0] if found else None)
    stats = index.stats(conn)
    none = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64))
    if not stats.avgdl:      # an empty table: nothing matches
        return none
    w = np.asarray(weights, dtype=np.float64)
    total, mark = index.buffers()
    touched = []
    try:
        for i, tok in enumerate(toks):
            if tok is None:      # no token at all: FTS5 matches nothing with it
                continue
            post = index.postings(conn, tok)
            if columns is not None and columns[i] is not None:
                post = post.only(columns[i])
            if not len(post.pos):
                continue
            n_hit = post.n_rows
            idf = math.log((stats.n_rows - n_hit + 0.5) / (n_hit + 0.5))
            if idf <= 0.0:
                idf = 1e-6
            pos = post.pos
            starts = np.flatnonzero(np.r_[True, pos[1:] != pos[:-1]])   # each row's first instance (pos sorted)
            here = pos[starts]
            f = np.add.reduceat(w[post.columns], starts)
            total[here] += idf * ((f * (K1 + 1.0)) / (f + stats.norm[here]))
            mark[here] = True
            touched.append(here)
        if not touched:
            return none
        found = np.flatnonzero(mark)
        return found, total[found]
    finally:
        for here in touched:
            total[here] = 0.0
            mark[here] = False
