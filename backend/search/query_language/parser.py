"""Query text -> :mod:`.ast` tree, with every fault reported as a :class:`QueryError` with its position."""
from __future__ import annotations

import calendar
import datetime as dt
import functools
import re
from dataclasses import dataclass

from lark import Token, Tree
from lark.exceptions import UnexpectedInput

from backend.search.query_language import ast
from backend.search.query_language.errors import QueryError
from backend.search.query_language.grammar import parser
from backend.search.query_language.syntax import check_balance, check_nesting, syntax_error
from backend.search.text.stop_words import STOP_WORDS

DEFAULT_NEAR = 10
MAX_DISTANCE = 1000
#: the proximity work a query may ask for: words x distance summed over its NEAR/ADJ and "..."~n (one
#: "a NEAR/1000 b" is 2,000); checked before any backend runs it (FTS5's NEAR is not interruptible)
MAX_PROXIMITY_COST = 2000
MIN_STEM = 2
#: parsed queries kept (a few KB each)
PARSED_KEPT = 512
SCHEMES = {"cpc": "cpc", "ipc": "ipc", "loc": "locarno"}
DATE_QUALIFIERS = {"pd": "publication_date", "ad": "filing_date", "prd": "priority_date"}
KEYWORD_QUALIFIERS = ("pa", "pn")
FIELDS = (*ast.TEXT_QUALIFIERS, "pa", "in", *SCHEMES, "pn", *DATE_QUALIFIERS)
_WORD = re.compile(r"\w+")
_WILD = re.compile(r"^\w[\w?]*\*?$")


@dataclass(frozen=True)
class ParsedQuery:
    """``node`` (None: nothing left after dropping stop words); ``plain``: only plain words, which keep
    the plain ranked-OR path."""

    node: ast.Node | None
    plain: bool

    def render(self) -> str:
        return self.node.render() if self.node is not None else ""


@functools.lru_cache(maxsize=PARSED_KEPT)
def parse(text: str) -> ParsedQuery:
    """The query's tree (frozen: kept for the next parse of the same text - the request's validation and
    its search parse each query, a cursor's next page again); a fault raises :class:`QueryError`."""
    check_balance(text)
    try:
        tree = parser().parse(text)
    except UnexpectedInput as exc:
        raise syntax_error(text, exc) from None
    check_nesting(tree)
    builder = _Builder(text)
    node = builder.disj(tree.children[0], None)
    if isinstance(node, ast.Not):
        raise QueryError("the query only excludes (NOT/-): add something to search for", _pos(node))
    return ParsedQuery(node, builder.plain)


def _is_field_term(conj: Tree) -> bool:
    """One ``field:value`` term on its own (no AND/NOT around it)."""
    kids = [c for c in conj.children if not isinstance(c, Token)]
    return len(kids) == 1 and isinstance(kids[0], Tree) and kids[0].data == "fielded"


def _pos(node) -> int | None:
    while isinstance(node, (ast.Not, ast.And, ast.Or)):
        node = node.child if isinstance(node, ast.Not) else node.children[0]
    return getattr(node, "position", None) or None


# -- tree -> AST ---------------------------------------------------------------------------------------
class _Builder:
    """Walks the lark tree; ``field`` is the enclosing qualifier (None: unqualified text)."""

    def __init__(self, text: str):
        self.text = text
        self.plain = True
        self.proximity_cost = 0

    def _charge(self, words: int, distance: int, what: str, pos: int) -> None:
        self.proximity_cost += words * max(distance, 1)
        if self.proximity_cost > MAX_PROXIMITY_COST:
            raise QueryError(f"{what}: too much proximity work (words x distance over all NEAR/ADJ/~n is "
                             f"{self.proximity_cost}, at most {MAX_PROXIMITY_COST}): use fewer words or a "
                             "smaller distance", pos)

    def node(self, tree, field: str | None):
        if isinstance(tree, Token):
            raise QueryError(f"unexpected {str(tree)!r}", tree.start_pos + 1)
        kind = tree.data
        if kind == "disj":
            return self.disj(tree, field)
        if kind == "conj":
            return self.conj(tree, field)
        self.plain = self.plain and kind == "term"
        if kind == "group":
            inner = self.disj(tree.children[0], field)
            return inner
        if kind == "negation":
            op, operand = tree.children
            child = self.node(operand, field)
            if child is None:
                raise QueryError(f"{op} needs a term that is not a stop word", op.start_pos + 1)
            if isinstance(child, ast.Not):
                return child.child
            return ast.Not(child)
        if kind == "proximity":
            return self.proximity(tree, field)
        if kind == "fielded":
            return self.fielded(tree, field)
        if kind in ("term", "phrase", "range", "compare"):
            return self.leaf(tree, field)
        raise QueryError(f"unexpected {kind}")  # pragma: no cover - the grammar has no other rules

    def disj(self, tree: Tree, field: str | None):
        """Terms side by side are ranked OR, except a field term (``pd:>=2021``, ``cpc:A43B``, ``ti:shoe``)
        beside them without an explicit OR: it restricts (AND), as in Espacenet (``pd:>=2021-06-01 shoe``
        is shoes published from June 2021). ``a OR pd:2020`` keeps the OR."""
        items = tree.children
        parts, restricting = [], []
        for i, child in enumerate(items):
            if isinstance(child, Token):
                continue
            beside_or = any(isinstance(items[j], Token) for j in (i - 1, i + 1) if 0 <= j < len(items))
            (restricting if not beside_or and _is_field_term(child) else parts).append(child)
        restrictions = [n for n in (self.node(c, field) for c in restricting) if n is not None]
        nodes = [n for n in (self.node(c, field) for c in parts) if n is not None]
        positives = [n for n in nodes if not isinstance(n, ast.Not)]
        negatives = [n for n in nodes if isinstance(n, ast.Not)]
        if not positives and not restrictions:
            if not negatives:
                return None
            return negatives[0] if len(negatives) == 1 else ast.Not(_or([n.child for n in negatives]))
        together = [*restrictions, _or(positives)] if positives else restrictions
        return _and([*together, *negatives]) if negatives or len(together) > 1 else together[0]

    def conj(self, tree: Tree, field: str | None):
        parts = [c for c in tree.children if not isinstance(c, Token)]
        if len(parts) > 1:
            self.plain = False
        nodes = [n for n in (self.node(c, field) for c in parts) if n is not None]
        if not nodes:
            return None
        positives = [n for n in nodes if not isinstance(n, ast.Not)]
        negatives = [n for n in nodes if isinstance(n, ast.Not)]
        if not positives:
            return negatives[0] if len(negatives) == 1 else ast.Not(_or([n.child for n in negatives]))
        return _and([*positives, *negatives])

    # -- leaves -------------------------------------------------------------------------------------
    def fielded(self, tree: Tree, outer: str | None):
        name_tok, value = tree.children
        name = str(name_tok).lower()
        pos = name_tok.start_pos + 1
        if outer is not None:
            raise QueryError(f"field {name}: inside the field group {outer}:(...)", pos)
        if name == "in":
            raise QueryError("in: (inventor) is not indexed: Prism's index has no inventor field; "
                             "use pa: for applicants", pos)
        if name not in FIELDS:
            known = ", ".join(f + ":" for f in FIELDS if f != "in")
            raise QueryError(f"unknown field {name}: (fields: {known})", pos)
        return self.node(value, name)

    def proximity(self, tree: Tree, field: str | None):
        left_t, op, right_t = tree.children
        pos = op.start_pos + 1
        word, _, number = str(op).partition("/")
        ordered = word == "ADJ"
        distance = int(number) if number else (0 if ordered else DEFAULT_NEAR)
        if distance > MAX_DISTANCE:
            raise QueryError(f"{op}: at most {MAX_DISTANCE} words apart", pos)
        operands = []
        for t in (left_t, right_t):
            node = self.node(t, field)
            sloppy = isinstance(node, ast.Phrase) and node.slop is not None
            if not isinstance(node, (ast.Word, ast.Phrase)) or sloppy:
                raise QueryError(f"{op} joins two words or \"quoted phrases\" (not stop words, groups or ~n)",
                                 pos)
            if isinstance(node, ast.Word) and node.wildcard and not node.prefix_only:
                raise QueryError(f"{op}: a ? wildcard cannot be used with NEAR/ADJ (a trailing * can)",
                                 node.position)
            operands.append(node)
        left, right = operands
        self._charge(sum(1 if isinstance(n, ast.Word) else len(n.words) for n in operands), distance, str(op), pos)
        if left.fields != right.fields:
            raise QueryError(f"{op}: both sides must search the same fields; write ti:(a {op} b)", pos)
        return ast.Prox(left, right, distance, ordered, left.fields, pos)

    def leaf(self, tree: Tree, field: str | None):
        kind = tree.data
        tok = tree.children[0]
        pos = tok.start_pos + 1
        if field in DATE_QUALIFIERS:
            return self.date(tree, field, pos)
        if kind in ("range", "compare"):
            what = "a range [.. TO ..]" if kind == "range" else f"{tok}"
            raise QueryError(f"{what} only applies to the date fields pd:, ad:, prd:", pos)
        if field in SCHEMES or field in KEYWORD_QUALIFIERS:
            raw = str(tok)[1:-1] if kind == "phrase" else str(tok)
            if kind == "phrase" and len(tree.children) > 1:
                raise QueryError(f"~n does not apply to {field}:", pos)
            return self.keyword(field, raw, pos)
        fields = ast.TEXT_QUALIFIERS[field] if field else ast.ALL_TEXT
        if kind == "phrase":
            return self.phrase(tree, fields, pos)
        return self.word(str(tok), fields, pos)

    def word(self, raw: str, fields: tuple[str, ...], pos: int):
        if "*" in raw or "?" in raw:
            self.plain = False
            text = raw.casefold()
            if not _WILD.match(text) or text.count("*") > 1:
                raise QueryError(f"{raw!r}: * only truncates on the right (wash*), ? stands for one letter "
                                 "(wom?n); both in single words", pos)
            stem = re.match(r"\w*", text).group(0)
            if not stem or (text.endswith("*") and len(text.split("*")[0].replace("?", "")) < MIN_STEM):
                raise QueryError(f"{raw!r}: start with a letter, and give at least {MIN_STEM} before a *",
                                 pos)
            return ast.Word(text, fields, pos)
        if fields != ast.ALL_TEXT:
            self.plain = False
        words = _WORD.findall(raw.casefold())
        if not words:
            return None
        if len(words) == 1:
            return None if words[0] in STOP_WORDS else ast.Word(words[0], fields, pos)
        return ast.Phrase(tuple(words), fields, None, pos)

    def phrase(self, tree: Tree, fields: tuple[str, ...], pos: int):
        self.plain = False
        tok = tree.children[0]
        inner = str(tok)[1:-1]
        if "*" in inner or "?" in inner:
            raise QueryError("wildcards inside quotes are not supported", pos)
        words = _WORD.findall(inner.casefold())
        slop = int(str(tree.children[1])[1:]) if len(tree.children) > 1 else None
        if slop is not None:
            if slop > MAX_DISTANCE:
                raise QueryError(f"~{slop}: at most {MAX_DISTANCE} words apart", pos)
            words = [w for w in words if w not in STOP_WORDS]
            if len(words) < 2:
                raise QueryError(f'"{inner}"~{slop} needs at least two words that are not stop words', pos)
            self._charge(len(words), slop, f"~{slop}", pos)
        if not words:
            raise QueryError("empty phrase", pos)
        if len(words) == 1:
            return None if words[0] in STOP_WORDS else ast.Word(words[0], fields, pos)
        return ast.Phrase(tuple(words), fields, slop, pos)

    def keyword(self, field: str, raw: str, pos: int) -> ast.Keyword:
        from backend.search.index import documents

        if field in SCHEMES:
            from backend.classification import SymbolError, validate
            from backend.search.pipeline.filters import symbol_clause

            scheme = SCHEMES[field]
            if "*" in raw or "?" in raw:
                raise QueryError(f"{field}:{raw}: no wildcards in classifications (every symbol includes its "
                                 "children)", pos)
            try:
                symbol = validate(raw, scheme).symbol
            except SymbolError as exc:
                raise QueryError(f"{field}: {exc}", pos) from None
            clause = symbol_clause(scheme, symbol)
            return ast.Keyword(clause.field, clause.value, clause.prefix, f"{field}:{symbol}", pos)
        prefix = raw.endswith("*")
        core = raw[:-1] if prefix else raw
        if "*" in core or "?" in core:
            raise QueryError(f"{field}:{raw}: only a trailing * is supported here", pos)
        if field == "pa":
            value = documents.normalise_applicant(core)
            kfield = "applicant_keys"
        else:   # a partial number is only cleaned up: the normaliser would pad it as if it were complete
            value = (re.sub(r"[\s\-,./]", "", core).upper() if prefix
                     else documents.normalise_publication_number(core))
            kfield = "publication_number"
        if not value or (prefix and len(value) < MIN_STEM):
            raise QueryError(f"{field}:{raw}: give a name or number (at least {MIN_STEM} characters "
                             "before *)", pos)
        shown = f'"{value}"' if " " in value else value
        return ast.Keyword(kfield, value, prefix, f"{field}:{shown}{'*' if prefix else ''}", pos)

    def date(self, tree: Tree, field: str, pos: int) -> ast.DateRange:
        kind = tree.data
        target = DATE_QUALIFIERS[field]
        if kind == "term":
            lo, hi = _date_span(str(tree.children[0]), field, pos)
            return ast.DateRange(target, lo.isoformat(), hi.isoformat(), field, pos)
        if kind == "compare":
            op, value = str(tree.children[0]), tree.children[1]
            lo, hi = _date_span(str(value), field, value.start_pos + 1)
            if (op == ">" and hi == dt.date.max) or (op == "<" and lo == dt.date.min):
                edge = "after 9999-12-31" if op == ">" else "before 0001-01-01"
                raise QueryError(f"{field}:{op}{value}: no date comes {edge} (the calendar's years are "
                                 "0001-9999)", pos)
            one = dt.timedelta(days=1)
            gte, lte = {">=": (lo, None), ">": (hi + one, None) if op == ">" else None,
                        "<=": (None, hi), "<": (None, lo - one) if op == "<" else None}[op]
            return ast.DateRange(target, gte and gte.isoformat(), lte and lte.isoformat(), field, pos)
        if kind == "range":
            a, _to, b = tree.children
            gte = None if str(a) == "*" else _date_span(str(a), field, a.start_pos + 1)[0]
            lte = None if str(b) == "*" else _date_span(str(b), field, b.start_pos + 1)[1]
            if gte and lte and gte > lte:
                raise QueryError(f"{field}: the range [{a} TO {b}] is empty (start after end)", pos)
            return ast.DateRange(target, gte and gte.isoformat(), lte and lte.isoformat(), field, pos)
        raise QueryError(f"{field}: expects a date (YYYY, YYYY-MM, YYYY-MM-DD), a comparison (>=2020) or "
                         "a range [2020-01-01 TO 2021-12-31]", pos)


def _date_span(raw: str, field: str, pos: int) -> tuple[dt.date, dt.date]:
    """The first and last day ``raw`` (YYYY, YYYY-MM, YYYY-MM-DD or YYYYMMDD) covers (years 0001-9999:
    year 0000 is not a date)."""
    m = re.fullmatch(r"(\d{4})(?:-?(\d{2}))?(?:-?(\d{2}))?", raw.strip())
    try:
        if not m or (m.group(3) and not m.group(2)):
            raise ValueError
        year, month, day = int(m.group(1)), m.group(2), m.group(3)
        if day:
            d = dt.date(year, int(month), int(day))
            return d, d
        if month:
            first = dt.date(year, int(month), 1)
            return first, first.replace(day=calendar.monthrange(year, first.month)[1])
        return dt.date(year, 1, 1), dt.date(year, 12, 31)
    except ValueError:
        raise QueryError(f"{field}:{raw}: not a date (YYYY, YYYY-MM or YYYY-MM-DD)", pos) from None


def _flat(kind: type, nodes: list) -> ast.Node:
    """``kind`` (ast.Or / ast.And) of ``nodes``, nested nodes of the same kind merged, duplicates dropped."""
    flat = []
    for n in nodes:
        flat.extend(n.children if isinstance(n, kind) else [n])
    flat = list(dict.fromkeys(flat))
    return flat[0] if len(flat) == 1 else kind(tuple(flat))


def _or(nodes: list) -> ast.Node:
    return _flat(ast.Or, nodes)


def _and(nodes: list) -> ast.Node:
    return _flat(ast.And, nodes)
