"""The examiner query language (docs/search.md, "Query language"): one text box, both backends.

``parse(text)`` gives a :class:`ParsedQuery` (an :mod:`.ast` tree and whether it is plain words,
which keep the plain ranked-OR path); :mod:`.to_es` and :mod:`.to_fts5` translate the tree for the
Elasticsearch and the embedded (SQLite FTS5) backend. Every fault is a :class:`QueryError` naming
the position and the problem.
"""
from backend.search.query_language.errors import QueryError
from backend.search.query_language.parser import FIELDS, ParsedQuery, parse

MAX_EXPANSIONS = 200   # a truncation/wildcard may match at most this many distinct words (both backends)

__all__ = ["FIELDS", "MAX_EXPANSIONS", "ParsedQuery", "QueryError", "parse", "query_words"]


def query_words(node) -> list[str]:
    """The words a parsed (not plain) query searches for, positive ones only (what the backends' "is
    there text to rank" checks see); a query of fields only (``cpc:A47C``) gives its rendered form."""
    from backend.search.query_language import ast

    words: list[str] = []
    for leaf in ast.positive_text_leaves(node):
        for part in (leaf.left, leaf.right) if isinstance(leaf, ast.Prox) else (leaf,):
            words.extend([part.text] if isinstance(part, ast.Word) else part.words)
    return list(dict.fromkeys(words)) or [node.render()]
