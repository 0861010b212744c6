"""The embedded text lists: BM25 over SQLite FTS5 (plain words ranked in NumPy from FTS5's postings,
:mod:`.fts_bm25`; phrases and the query language by SQL, :mod:`backend.search.query_language.to_fts5`), the
text ranking past the window, its count and the page's snippets."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from backend.search.backends.embedded import fts_bm25
from backend.search.backends.embedded.snapshot import Snapshot, dedupe_positions, row_arrays
from backend.search.backends.embedded.store import FTS_COLUMNS, FTS_TOKENIZE, LANG_COLUMNS, LANG_TOKENIZE
from backend.search.pipeline.candidates import Candidate, Query
from backend.search.text import languages, text_fields

if TYPE_CHECKING:
    from backend.search.backends.embedded.store import EmbeddedStore


def bm25(store: EmbeddedStore, snap: Snapshot, query: Query, mask: np.ndarray | None) -> list[Candidate]:
    """FTS5 returns matches best first; we read them in growing chunks until ``window`` of them (or
    patents, when grouping) pass the filter: the exact top of the filtered ranking, cheaply."""
    if not query.terms:
        return []
    if query.node is not None:      # the query language (operators, fields, phrases, truncation)
        return bm25_top(snap, ql_rows(store, snap, query), mask, query)
    fast = plain_scores(store, snap, query)
    if fast is not None:
        return top(snap, *fast, mask, query)
    sql, params = plain_sql(store, query)
    if sql is None:
        return []
    passing = len(snap) if mask is None else int(mask.sum())
    if passing == 0:
        return []
    selectivity = passing / max(len(snap), 1)
    limit = int(query.window / selectivity * (2 if query.group else 1.2)) + 16
    conn = store.conn()
    while True:
        rows = conn.execute(f"{sql} ORDER BY r LIMIT ?", (*params, limit)).fetchall()
        chosen = bm25_top(snap, rows, mask, query)
        exhausted = len(rows) < limit
        if exhausted or len(chosen) >= query.window:
            # entries tied with the last one might lie beyond the limit: only safe if exhausted or
            # the last fetched score is strictly worse than the last chosen
            if exhausted or not chosen or -rows[-1][1] < chosen[-1].score:
                return chosen
        limit *= 4


def bm25_top(snap: Snapshot, rows: list, mask: np.ndarray | None, query: Query) -> list[Candidate]:
    return top(snap, *row_arrays(snap, rows), mask, query) if rows else []


def top(snap: Snapshot, pos: np.ndarray, scores: np.ndarray, mask: np.ndarray | None,
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
        chosen = dedupe_positions([int(sub_pos[i]) for i in order], snap.groups(query.group_field),
                                   query.window)
        if len(chosen) >= query.window or len(idx) == len(pos):
            by_pos = dict(zip(sub_pos.tolist(), sub_scores.tolist()))
            return [snap.candidate(p, by_pos[p]) for p in chosen]
        want *= 4


def ql_rows(store: EmbeddedStore, snap: Snapshot, query: Query) -> list[tuple[int, float]]:
    """(rowid, bm25) of every figure matching a query-language query (:mod:`.query_language.to_fts5`)."""
    from backend.search.query_language import to_fts5

    cached = query.memo.get("ql_rows")      # one search asks up to three times (head, count, tail)
    if cached is not None and cached[0] is snap:
        return cached[1]
    weights = ", ".join(str(w) for w in text_fields.fts_weights())
    rows = to_fts5.rows(store.conn(), "figures_fts", snap, query.node, weights, FTS_TOKENIZE)
    query.memo["ql_rows"] = (snap, rows)
    return rows


def snippets(store: EmbeddedStore, query: Query, figure_ids: list[str]) -> dict[str, dict[str, str]]:
    from backend.search.query_language import to_fts5

    if not query.english:   # the snippets mark words of the main (English) fields
        return {}
    expression = to_fts5.score_expr(query.node) if query.node is not None else match_any(query.terms)
    marks = ",".join("?" * len(figure_ids))
    rowids = dict(store.conn().execute(f"SELECT id, figure_id FROM figures WHERE figure_id IN ({marks})",
                                       figure_ids).fetchall())
    return to_fts5.snippets(store.conn(), "figures_fts", FTS_COLUMNS, expression, rowids)


def matches(store: EmbeddedStore, snap: Snapshot, query: Query, mask: np.ndarray | bool | None = False) -> np.ndarray:
    """Snapshot positions of every figure matching the text and passing the filters (no ranking);
    ``mask``: the filters' mask when already computed."""
    if mask is False:
        mask = snap.mask(query.spec)
    fast = plain_scores(store, snap, query) if query.node is None else None
    if fast is not None:
        pos = fast[0]
        return pos[mask[pos]] if mask is not None else pos
    rows = ql_rows(store, snap, query) if query.node is not None else plain_rows(store, query, ranked=False)
    pos, _ok = fts_bm25.positions(snap.ids, np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)))
    return pos[mask[pos]] if mask is not None else pos


def text_count(store: EmbeddedStore, query: Query, keys: list[str]) -> tuple[int, str, set[str]]:
    snap = store.snapshot()
    if not len(snap) or not query.terms:
        return 0, "eq", set()
    pending = query.memo.get("pending_matches")   # read beside the ranking (_retrieve)
    pos = pending[1].result() if pending is not None and pending[0] is snap else matches(store, snap, query)
    if not query.group:   # one row per figure: positions are distinct; only the few keys are looked up
        hit = np.zeros(len(snap), dtype=bool)
        hit[pos] = True
        return len(pos), "eq", {k for k in keys if k in snap.pos_of and hit[snap.pos_of[k]]}
    codes, names = snap.group_codes(query.group_field)
    seen = np.zeros(len(names), dtype=bool)
    seen[codes[pos]] = True
    return int(seen.sum()), "eq", {k for k in keys if k in names and seen[names[k]]}


def text_after(store: EmbeddedStore, query: Query, after: tuple[float, str], limit: int) -> list[Candidate]:
    """The full ranking of the filtered matches (FTS5 ``bm25()``), read after the keyset."""
    snap = store.snapshot()
    if not len(snap) or not query.terms or limit <= 0:
        return []
    fast = plain_scores(store, snap, query) if query.node is None else None
    if fast is not None:
        pos, scores = fast
    else:
        rows = ql_rows(store, snap, query) if query.node is not None else plain_rows(store, query)
        pos, scores = row_arrays(snap, rows)
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


def plain_rows(store: EmbeddedStore, query: Query, ranked: bool = True) -> list[tuple]:
    """(rowid, bm25) of every figure matching plain words (:meth:`_plain_sql`), unordered; (rowid,)
    when not ``ranked``."""
    sql, params = plain_sql(store, query, ranked)
    return store.conn().execute(sql, params).fetchall() if sql else []


def plain_sql(store: EmbeddedStore, query: Query, ranked: bool = True) -> tuple[str | None, list[str]]:
    """The SQL of (rowid, r = bm25) rows matching plain words in the request's languages: English in
    ``figures_fts``, German/French tokens in ``figures_lang`` (scores of both added, as ES's bool
    ``should`` does); (None, []) when nothing can match. Not ``ranked``: (rowid,) rows, each once, no
    bm25 computed (what counting needs: several times cheaper on common words)."""
    parts, params = [], []
    if query.english:
        weights = ", ".join(str(w) for w in text_fields.fts_weights())
        score = f", bm25(figures_fts, {weights}) AS r" if ranked else ""
        parts.append(f"SELECT rowid{score} FROM figures_fts WHERE figures_fts MATCH ?")
        params.append(match_any(query.terms))
    if query.other_languages and store.has_languages(store.snapshot()) and query.lang_terms:
        weights = ", ".join(str(languages.weight(c)) for c in LANG_COLUMNS)
        score = f", bm25(figures_lang, {weights}) AS r" if ranked else ""
        parts.append(f"SELECT rowid{score} FROM figures_lang WHERE figures_lang MATCH ?")
        params.append(" OR ".join("{" + " ".join(languages.field(lang, p) for p in languages.PARTS) + "} : ("
                                  + match_any(tokens) + ")" for lang, tokens in query.lang_terms.items()))
    if len(parts) < 2:
        return (parts[0] if parts else None), params
    if not ranked:
        return " UNION ".join(parts), params
    return f"SELECT rowid, sum(r) AS r FROM ({' UNION ALL '.join(parts)}) GROUP BY rowid", params


def plain_scores(store: EmbeddedStore, snap: Snapshot, query: Query) -> tuple[np.ndarray, np.ndarray] | None:
    """(positions, scores) of every figure matching plain words, unfiltered, from the postings in
    memory (:mod:`.fts_bm25`: FTS5's bm25, English and German/French summed as the SQL does); None when
    a word is a phrase to FTS5 (the SQL path then). Kept on ``query`` (ranking, count and tail ask)."""
    cached = query.memo.get("plain_scores")
    if cached is not None and cached[0] is snap:
        return cached[1]
    conn = store.conn()
    parts = []
    if query.english:
        parts.append(fts_bm25.score(conn, snap.text_index("figures_fts", FTS_TOKENIZE), list(query.terms),
                                    text_fields.fts_weights()))
    if query.other_languages and query.lang_terms and store.has_languages(snap):
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
    query.memo["plain_scores"] = (snap, result)
    return result


def match_any(terms: list[str]) -> str:
    """An FTS5 query matching any of ``terms`` (each quoted)."""
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)
