"""AST -> Elasticsearch query DSL.

Words and phrases are ``multi_match`` (most_fields / phrase) over the leaf's fields with the plain
path's boosts; truncation, ``?`` and proximity are ``intervals`` queries (``prefix``/``wildcard``,
``all_of`` with ``max_gaps`` and ``ordered``), one per field in a ``bool.should``. Keyword and date
leaves do not score (``constant_score`` with boost 0), so ranking comes from the text alone, as in
the embedded backend.
"""
from __future__ import annotations

from backend.search.query_language import MAX_EXPANSIONS, ast
from backend.search.query_language.errors import QueryError
from backend.search.text.text_fields import FIELD_WEIGHTS as BOOSTS  # the plain path's boosts


def _boosted(fields: tuple[str, ...]) -> list[str]:
    return [f"{f}^{BOOSTS[f]:g}" for f in fields]


def _per_field(fields: tuple[str, ...], rule) -> dict:
    clauses = [{"intervals": {f: {**rule(f), "boost": BOOSTS[f]}}} for f in fields]
    return clauses[0] if len(clauses) == 1 else {"bool": {"should": clauses, "minimum_should_match": 1}}


def _rule(node: ast.Word | ast.Phrase) -> dict:
    """The intervals rule of a proximity operand."""
    if isinstance(node, ast.Word):
        if node.wildcard:
            return {"prefix": {"prefix": node.text[:-1]}}
        return {"match": {"query": node.text}}
    return {"match": {"query": " ".join(node.words), "ordered": True, "max_gaps": 0}}


def wildcard_rule(node: ast.Word) -> dict:
    if node.prefix_only:
        return {"prefix": {"prefix": node.text[:-1]}}
    return {"wildcard": {"pattern": node.text}}


def to_es(node: ast.Node) -> dict:
    if isinstance(node, ast.And):
        must = [to_es(c) for c in node.children if not isinstance(c, ast.Not)]
        must_not = [to_es(c.child) for c in node.children if isinstance(c, ast.Not)]
        return {"bool": {"must": must, **({"must_not": must_not} if must_not else {})}}
    if isinstance(node, ast.Or):
        return {"bool": {"should": [to_es(c) for c in node.children], "minimum_should_match": 1}}
    if isinstance(node, ast.Not):   # only under And (the parser guarantees it); kept total for safety
        return {"bool": {"must_not": [to_es(node.child)]}}
    if isinstance(node, ast.Word):
        if node.wildcard:
            return _per_field(node.fields, lambda f: wildcard_rule(node))
        return {"multi_match": {"query": node.text, "fields": _boosted(node.fields), "type": "most_fields"}}
    if isinstance(node, ast.Phrase):
        if node.slop is None:
            return {"multi_match": {"query": " ".join(node.words), "fields": _boosted(node.fields),
                                    "type": "phrase"}}
        return _per_field(node.fields, lambda f: {"match": {"query": " ".join(node.words), "ordered": False,
                                                            "max_gaps": node.slop}})
    if isinstance(node, ast.Prox):
        return _per_field(node.fields, lambda f: {"all_of": {
            "intervals": [_rule(node.left), _rule(node.right)], "max_gaps": node.distance,
            "ordered": node.ordered}})
    if isinstance(node, ast.Keyword):
        query = {"prefix": {node.field: node.value}} if node.prefix else {"term": {node.field: node.value}}
        return {"constant_score": {"filter": query, "boost": 0.0}}
    if isinstance(node, ast.DateRange):
        rng = {k: v for k, v in (("gte", node.gte), ("lte", node.lte)) if v}
        query = {"range": {node.field: rng}} if rng else {"exists": {"field": node.field}}
        return {"constant_score": {"filter": query, "boost": 0.0}}
    raise TypeError(f"not a query node: {node!r}")


def expansion_probe(node: ast.Word) -> dict:
    """A query whose rewrite (``_validate/query?rewrite=true``) lists the words ``node`` expands to."""
    kind, value = ("prefix", node.text[:-1]) if node.prefix_only else ("wildcard", node.text)
    should = [{kind: {f: {"value": value, "rewrite": "scoring_boolean"}}} for f in node.fields]
    return {"bool": {"should": should}}


def check_expansions(es, index: str, node: ast.Node) -> None:
    """Refuse a truncation or ``?`` word matching more than MAX_EXPANSIONS words in its fields (the same
    limit as the embedded backend): ``_validate/query`` with ``rewrite`` lists the words it expands to."""
    for leaf, _neg in ast.leaves(node):
        for word in (leaf.left, leaf.right) if isinstance(leaf, ast.Prox) else (leaf,):
            if not (isinstance(word, ast.Word) and word.wildcard):
                continue
            try:
                resp = es.indices.validate_query(index=index, query=expansion_probe(word), rewrite=True,
                                                 explain=True)
            except Exception as exc:  # noqa: BLE001 - too_many_clauses and the like: far too many words
                if "too_many" in str(exc) or "TooMany" in str(exc):
                    raise QueryError(f"{word.text} matches more than {MAX_EXPANSIONS} different words: give "
                                     "more letters", word.position) from None
                raise
            words = set()
            for item in resp.get("explanations") or []:
                for token in str(item.get("explanation") or "").split():
                    field, sep, term = token.lstrip("(+").partition(":")
                    if sep and field in word.fields:
                        words.add(term.rstrip(")"))
            if len(words) > MAX_EXPANSIONS:
                raise QueryError(f"{word.text} matches more than {MAX_EXPANSIONS} different words: give more "
                                 "letters", word.position)


def highlight(fields: tuple[str, ...]) -> dict:
    """The ``highlight`` section: matched words in ``<mark>``, the rest HTML-escaped; the whole title, one
    fragment of the other fields."""
    return {"pre_tags": ["<mark>"], "post_tags": ["</mark>"], "encoder": "html", "require_field_match": True,
            "fields": {f: ({"number_of_fragments": 0} if f == "title" else
                           {"number_of_fragments": 1, "fragment_size": 160}) for f in fields}}
