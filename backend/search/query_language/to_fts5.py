"""AST -> SQLite FTS5 MATCH expressions, and the embedded backend's evaluation of a whole query.

FTS5 expresses words (``"chair"``), prefixes (``"wash"*``), phrases, unordered proximity
(``NEAR("a" "b", n)``), column filters (``{title abstract} : ...``) and AND / OR / NOT. What it cannot
express is evaluated beside it and combined as boolean masks over the index snapshot: ``?``
wildcards (expanded against the index vocabulary, ``fts5vocab``), ordered proximity (ADJ: FTS5
``NEAR`` finds candidates, token offsets from ``fts5vocab`` check the order), classification,
applicant, number and date leaves (the snapshot's posting lists and date arrays).

A word repeated inside ``NEAR``/``~n`` (``"razor razor"~3``, ``view NEAR/0 view``) means as many different
occurrences of it, as in Elasticsearch's intervals; FTS5's ``NEAR`` lets one occurrence stand for both, so
those leaves (:meth:`Evaluator.shared_leaves`) are checked on token offsets, their candidates found by an
``AND`` of their words (cheap, whatever the repetition).
"""
from __future__ import annotations

import html
from collections import Counter, defaultdict

import numpy as np

from backend.search.query_language import MAX_EXPANSIONS, ast
from backend.search.query_language.errors import QueryError

_TOP = "\U0010ffff"


def quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _columns(fields: tuple[str, ...], inner: str) -> str:
    return inner if fields == ast.ALL_TEXT else "{" + " ".join(fields) + "} : (" + inner + ")"


def _operand(node: ast.Word | ast.Phrase) -> str:
    if isinstance(node, ast.Word):
        return quote(node.text[:-1]) + "*" if node.prefix_only else quote(node.text)
    return quote(" ".join(node.words))


def leaf_expr(node) -> str | None:
    """The FTS5 expression of a text leaf (for ADJ: of its unordered superset); None: not expressible."""
    if isinstance(node, ast.Word):
        if node.wildcard and not node.prefix_only:
            return None
        return _columns(node.fields, _operand(node))
    if isinstance(node, ast.Phrase):
        if node.slop is None:
            return _columns(node.fields, _operand(node))
        # FTS5 counts every token between the first and last word; intervals count only the gaps. A repeated
        # word is named once (FTS5's NEAR is quadratic in its phrases): the same matches, as FTS5 lets one
        # occurrence stand for several; the distinct occurrences are checked on offsets (Evaluator)
        near = " ".join(quote(w) for w in dict.fromkeys(node.words))
        return _columns(node.fields, f"NEAR({near}, {node.slop + len(node.words) - 2})")
    if isinstance(node, ast.Prox):
        return _columns(node.fields, f"NEAR({_operand(node.left)} {_operand(node.right)}, {node.distance})")
    return None


def expr(node: ast.Node, shared: frozenset = frozenset()) -> str | None:
    """The exact FTS5 expression of ``node``, or None when part of it needs evaluating outside FTS5
    (``shared``: the proximity leaves whose operands can fall on one token, see the module's docstring)."""
    if isinstance(node, ast.And):
        pos = [expr(c, shared) for c in node.children if not isinstance(c, ast.Not)]
        neg = [expr(c.child, shared) for c in node.children if isinstance(c, ast.Not)]
        if not pos or any(e is None for e in pos + neg):
            return None
        out = " AND ".join(f"({e})" for e in pos)
        return "(" + out + ")" + "".join(f" NOT ({e})" for e in neg)
    if isinstance(node, ast.Or):
        parts = [expr(c, shared) for c in node.children]
        return None if any(p is None for p in parts) else " OR ".join(f"({p})" for p in parts)
    if (isinstance(node, ast.Prox) and node.ordered) or node in shared:
        return None
    if isinstance(node, ast.TEXT_LEAVES):
        return leaf_expr(node)
    return None


def score_expr(node: ast.Node) -> str | None:
    """What BM25 ranks and what is highlighted: the positive text leaves, ORed (``?`` words excluded)."""
    parts = [e for e in (leaf_expr(leaf) for leaf in ast.positive_text_leaves(node)) if e]
    return " OR ".join(f"({p})" for p in dict.fromkeys(parts)) if parts else None


class Evaluator:
    """Evaluates a query over one embedded index snapshot: a boolean mask of its figures.

    ``conn`` is the index's SQLite connection, ``table`` the FTS5 table, ``snap`` the snapshot (``ids``
    sorted rowids, ``postings``, ``mask(FilterSpec)``), ``tokenize`` the FTS5 tokenizer spec.
    """

    def __init__(self, conn, table: str, snap, tokenize: str):
        self.conn, self.table, self.snap, self.tokenize = conn, table, snap, tokenize
        self._vocab_ready = False

    # -- vocabulary --------------------------------------------------------------------------------
    def _vocab(self) -> None:
        if self._vocab_ready:
            return
        for kind in ("instance", "col"):
            self.conn.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.prism_ql_{kind} "
                              f"USING fts5vocab(main, {self.table}, {kind})")
        self.conn.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.prism_ql_tok USING fts5(x, "
                          f"tokenize = '{self.tokenize}')")
        self.conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.prism_ql_tokv "
                          "USING fts5vocab(temp, prism_ql_tok, instance)")
        self._vocab_ready = True

    def expansions(self, node: ast.Word) -> list[str]:
        """The index words ``node`` (a truncation or ``?`` word) matches in its fields; too many is a 400."""
        self._vocab()
        stem = node.text.split("*")[0].split("?")[0]
        marks = ",".join("?" * len(node.fields))
        glob = node.text.replace("[", "[[]")     # GLOB: * any letters, ? one letter
        sql = (f"SELECT DISTINCT term FROM temp.prism_ql_col WHERE term >= ? AND term < ? AND term GLOB ? "
               f"AND col IN ({marks}) LIMIT {MAX_EXPANSIONS + 1}")
        terms = [r[0] for r in self.conn.execute(sql, (stem, stem + _TOP, glob, *node.fields))]
        if len(terms) > MAX_EXPANSIONS:
            raise QueryError(f"{node.text} matches more than {MAX_EXPANSIONS} different words: give more "
                             "letters", node.position)
        return terms

    def check_expansions(self, node: ast.Node) -> None:
        for leaf, _neg in ast.leaves(node):
            for word in (leaf.left, leaf.right) if isinstance(leaf, ast.Prox) else (leaf,):
                if isinstance(word, ast.Word) and word.wildcard:
                    self.expansions(word)

    def _terms(self, node: ast.Word | ast.Phrase) -> list[tuple[str, bool]]:
        """(indexed term, is a prefix) of each token of a proximity operand."""
        if isinstance(node, ast.Word) and node.prefix_only:
            return [(node.text[:-1], True)]
        return [(t, False) for t in self._tokens(node.text if isinstance(node, ast.Word) else " ".join(node.words))]

    def shared_leaves(self, node: ast.Node) -> frozenset:
        """The ``~n`` phrases with a repeated token and the ``NEAR`` leaves whose two sides can match one
        token: FTS5 would let one occurrence count twice, so these are checked on offsets."""
        out = set()
        for leaf, _neg in ast.leaves(node):
            if isinstance(leaf, ast.Phrase) and leaf.slop is not None:
                tokens = self._tokens(" ".join(leaf.words))
                if len(set(tokens)) < len(tokens):
                    out.add(leaf)
            elif isinstance(leaf, ast.Prox) and not leaf.ordered:
                left, right = self._terms(leaf.left), self._terms(leaf.right)
                if any(_overlap(a, b) for a in left for b in right):
                    out.add(leaf)
        return frozenset(out)

    def _tokens(self, text: str) -> list[str]:
        self._vocab()
        self.conn.execute("DELETE FROM temp.prism_ql_tok")
        self.conn.execute("INSERT INTO temp.prism_ql_tok (rowid, x) VALUES (1, ?)", (text,))
        rows = self.conn.execute("SELECT term FROM temp.prism_ql_tokv ORDER BY offset").fetchall()
        self.conn.execute("DELETE FROM temp.prism_ql_tok")
        return [r[0] for r in rows]

    def _offsets(self, term: str, prefix: bool, fields, docs: set[int]) -> dict[tuple[int, str], list[int]]:
        sql = "SELECT doc, col, offset FROM temp.prism_ql_instance WHERE "
        if prefix:
            rows = self.conn.execute(sql + "term >= ? AND term < ?", (term, term + _TOP))
        else:
            rows = self.conn.execute(sql + "term = ?", (term,))
        out: dict[tuple[int, str], list[int]] = defaultdict(list)
        for doc, col, off in rows:
            if doc in docs and col in fields:
                out[(doc, col)].append(off)
        return out

    def _spans(self, node: ast.Word | ast.Phrase, fields, docs: set[int]) -> dict[tuple, list[tuple]]:
        """(doc, column) -> [(first offset, last offset)] of the operand's occurrences."""
        if isinstance(node, ast.Word) and node.prefix_only:
            hits = self._offsets(node.text[:-1], True, fields, docs)   # FTS5 does not stem a prefix either
            return {k: [(o, o) for o in v] for k, v in hits.items()}
        tokens = self._tokens(node.text if isinstance(node, ast.Word) else " ".join(node.words))
        if not tokens:
            return {}
        per = [self._offsets(t, False, fields, docs) for t in tokens]
        out: dict[tuple[int, str], list[tuple]] = {}
        for key, starts in per[0].items():
            rest = [set(p.get(key, ())) for p in per[1:]]
            spans = [(s, s + len(tokens) - 1) for s in starts
                     if all(s + i + 1 in r for i, r in enumerate(rest))]
            if spans:
                out[key] = spans
        return out

    # -- evaluation --------------------------------------------------------------------------------
    def _rowids_mask(self, rowids) -> np.ndarray:
        ids = np.fromiter(rowids, dtype=np.int64)
        mask = np.zeros(len(self.snap), dtype=bool)
        if len(ids):
            pos = np.searchsorted(self.snap.ids, ids)
            ok = (pos < len(self.snap)) & (self.snap.ids[np.minimum(pos, len(self.snap) - 1)] == ids)
            mask[pos[ok]] = True
        return mask

    def _match(self, expression: str) -> list[int]:
        return [r[0] for r in self.conn.execute(f"SELECT rowid FROM {self.table} WHERE {self.table} MATCH ?",
                                                (expression,))]

    def mask(self, node: ast.Node, shared: frozenset = frozenset()) -> np.ndarray:
        expression = expr(node, shared)
        if expression is not None:
            return self._rowids_mask(self._match(expression))
        if isinstance(node, ast.And):
            out = np.ones(len(self.snap), dtype=bool)
            for child in node.children:
                if isinstance(child, ast.Not):
                    out &= ~self.mask(child.child, shared)
                else:
                    out &= self.mask(child, shared)
            return out
        if isinstance(node, ast.Or):
            out = np.zeros(len(self.snap), dtype=bool)
            for child in node.children:
                out |= self.mask(child, shared)
            return out
        if isinstance(node, ast.Word):       # a ? wildcard
            terms = self.expansions(node)
            if not terms:
                return np.zeros(len(self.snap), dtype=bool)
            marks = ",".join("?" * len(terms))
            rows = self.conn.execute(
                f"SELECT DISTINCT doc, col FROM temp.prism_ql_instance WHERE term IN ({marks})", terms)
            return self._rowids_mask(doc for doc, col in rows if col in node.fields)
        if isinstance(node, ast.Phrase):     # a ~n phrase repeating a word: distinct offsets in a window
            return self._rowids_mask(self._repeated_phrase(node))
        if isinstance(node, ast.Prox):       # ordered or shared: FTS5 NEAR finds candidates, offsets decide
            same = self._same_token(node)
            if same is not None:             # view NEAR/n view (either order: the same): "view view"~n
                docs = set(self._match(_columns(node.fields, quote(same))))
                return self._rowids_mask(self._repeated_token(same, 2, node.fields, docs, node.distance))
            docs = set(self._match(leaf_expr(node)))
            lefts = self._spans(node.left, node.fields, docs)
            rights = self._spans(node.right, node.fields, docs)
            keep = set()
            for key, lspans in lefts.items():
                rspans = rights.get(key, ())
                for lstart, lend in lspans:
                    if any(0 <= rstart - lend - 1 <= node.distance or
                           (not node.ordered and 0 <= lstart - rend - 1 <= node.distance)
                           for rstart, rend in rspans):
                        keep.add(key[0])
                        break
            return self._rowids_mask(keep)
        if isinstance(node, ast.Keyword):
            return self._keyword(node)
        if isinstance(node, ast.DateRange):
            from backend.search.pipeline.filters import FilterSpec

            return self.snap.mask(FilterSpec(ranges={node.field: (node.gte, node.lte)}))
        raise TypeError(f"not a query node: {node!r}")

    def _repeated_phrase(self, node: ast.Phrase) -> set[int]:
        """Figures holding every token of ``node`` as often as it is repeated, at distinct offsets in one
        field, with at most ``slop`` other tokens among them (Lucene's unordered intervals)."""
        need = Counter(self._tokens(" ".join(node.words)))
        candidates = _columns(node.fields, " AND ".join(quote(t) for t in need))
        docs = set(self._match(candidates))
        if len(need) == 1:
            ((term, count),) = need.items()
            return self._repeated_token(term, count, node.fields, docs, node.slop)
        offsets = {t: self._offsets(t, False, node.fields, docs) for t in need}
        keys = set.intersection(*(set(per) for per in offsets.values()))
        return {key[0] for key in keys if _in_window(offsets, key, need, node.slop)}

    def _same_token(self, node: ast.Prox) -> str | None:
        """The token when both sides of ``node`` are that one token (not a prefix), else None."""
        left, right = self._terms(node.left), self._terms(node.right)
        if len(left) == len(right) == 1 and left == right and not left[0][1]:
            return left[0][0]
        return None

    def _repeated_token(self, term: str, count: int, fields, docs: set[int], slop: int) -> set[int]:
        """``"view view ... view"~slop`` (one token ``count`` times): vectorised over the token's offsets, a
        window of ``count`` consecutive occurrences in one field spanning at most ``count + slop`` tokens."""
        cases = " ".join(f"WHEN ? THEN {i}" for i in range(len(fields)))
        marks = ",".join("?" * len(fields))
        rows = self.conn.execute(
            f"SELECT doc * {len(fields)} + CASE col {cases} END, offset FROM temp.prism_ql_instance "
            f"WHERE term = ? AND col IN ({marks})", (*fields, term, *fields)).fetchall()
        if len(rows) < count:
            return set()
        found = np.asarray(rows, dtype=np.int64)
        found = found[np.isin(found[:, 0] // len(fields), np.fromiter(docs, dtype=np.int64))]
        found = found[np.lexsort((found[:, 1], found[:, 0]))]
        group, offset = found[:, 0], found[:, 1]
        last = count - 1
        ok = (group[last:] == group[:len(group) - last]) & \
            (offset[last:] - offset[:len(offset) - last] + 1 - count <= slop)
        return set((group[last:][ok] // len(fields)).tolist())

    def _keyword(self, node: ast.Keyword) -> np.ndarray:
        table = self.snap.postings.get(node.field, {})
        out = np.zeros(len(self.snap), dtype=bool)
        values = [v for v in table if v.startswith(node.value)] if node.prefix else [node.value]
        for value in values:
            positions = table.get(value)
            if positions is not None:
                out[positions] = True
        return out


def _overlap(a: tuple[str, bool], b: tuple[str, bool]) -> bool:
    """Can the (term, is a prefix) operands ``a`` and ``b`` match the same token?"""
    (ta, pa), (tb, pb) = a, b
    return ta == tb or (pa and tb.startswith(ta)) or (pb and ta.startswith(tb))


def _in_window(offsets: dict, key: tuple, need: Counter, slop: int) -> bool:
    """Do the tokens' offsets in ``key`` (doc, column) hold ``need`` (token -> count) at distinct offsets
    spanning at most ``sum(need) + slop`` tokens? A sliding window over the merged offsets: linear."""
    merged = sorted((off, t) for t in need for off in offsets[t][key])
    total = sum(need.values())
    have: Counter = Counter()
    missing = len(need)
    lo = 0
    for off, term in merged:
        have[term] += 1
        if have[term] == need[term]:
            missing -= 1
        while missing == 0:
            first, first_term = merged[lo]
            if off - first + 1 - total <= slop:
                return True
            have[first_term] -= 1
            if have[first_term] < need[first_term]:
                missing += 1
            lo += 1
    return False


def rows(conn, table: str, snap, node: ast.Node, weights: str, tokenize: str) -> list[tuple[int, float]]:
    """(rowid, bm25) of every figure matching ``node`` - the shape of a plain FTS5 ``bm25()`` query, so
    the backend ranks, filters and pages them as it does plain words. bm25 is that of the positive
    text leaves (0 for a figure matched by fields only, e.g. ``cpc:A47C``)."""
    evaluator = Evaluator(conn, table, snap, tokenize)
    evaluator.check_expansions(node)
    shared = evaluator.shared_leaves(node)
    ranked = f"SELECT rowid, bm25({table}, {weights}) FROM {table} WHERE {table} MATCH ?"
    whole = expr(node, shared)
    if whole is not None:   # one FTS5 query; a NOT phrase never occurs in a match, so adds nothing to bm25
        return conn.execute(ranked, (whole,)).fetchall()
    mask = evaluator.mask(node, shared)
    expression = score_expr(node)
    scores = dict(conn.execute(ranked, (expression,)).fetchall()) if expression else {}
    return [(int(r), scores.get(int(r), 0.0)) for r in snap.ids[mask].tolist()]


def snippets(conn, table: str, columns: tuple[str, ...], expression: str, rowids: dict[int, str],
             tokens: int = 24) -> dict[str, dict[str, str]]:
    """figure id -> {column: HTML with the words ``expression`` matched in <mark>} for the given rowids
    (rowid -> figure id); only the columns that matched. The whole title, a snippet of the others."""
    if not rowids or not expression:
        return {}
    parts = ", ".join(f"highlight({table}, {i}, char(1), char(2))" if c == "title" else
                      f"snippet({table}, {i}, char(1), char(2), '…', {tokens})"
                      for i, c in enumerate(columns))
    marks = ",".join("?" * len(rowids))
    out: dict[str, dict[str, str]] = {}
    sql = f"SELECT rowid, {parts} FROM {table} WHERE {table} MATCH ? AND rowid IN ({marks})"
    for row in conn.execute(sql, (expression, *rowids)):
        found = {c: _marked(text) for c, text in zip(columns, row[1:]) if text and "\x01" in text}
        if found:
            out[rowids[row[0]]] = found
    return out


def _marked(text: str) -> str:
    return html.escape(text, quote=False).replace("\x01", "<mark>").replace("\x02", "</mark>")
