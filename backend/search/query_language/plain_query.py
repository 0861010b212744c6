"""Is a text query plain words (the ranked-OR path, where BM25 may be fused with dense text vectors)?

The query language (:mod:`backend.search.query_language`) decides: its parse result says whether the
query is only plain words. A query it cannot parse is not plain (its error is reported on its own path).
"""
from __future__ import annotations

import re

_OPERATORS = re.compile(r'["()*?:~^\[\]{}]|\b(?:AND|OR|NOT|NEAR|ADJ)\b')


def is_plain_words(text: str | None) -> bool:
    if not text or not text.strip():
        return False
    try:
        from backend.search.query_language import QueryError, parse
    except ImportError:   # the query language is not installed: operators, quotes, fields are not plain
        return not _OPERATORS.search(text)
    try:
        return bool(parse(text).plain)
    except QueryError:
        return False
