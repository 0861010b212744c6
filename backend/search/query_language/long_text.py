"""A long text (a pasted claim or abstract) is searched as plain words, never read as the query language.

Past :data:`LONG_TEXT` characters the text is reduced to its :data:`MAX_WORDS` most frequent words that are
not stop words (ties in the order they first appear): a claim's colons, brackets and quotes are not
fields, groups and phrases, and the ranked-OR query both backends build stays a bounded size.
"""
from __future__ import annotations

import re
from collections import Counter

from backend.search.query_language.parser import STOP_WORDS

LONG_TEXT = 1000        # characters; an examiner's typed query is far shorter
MAX_TEXT = 100_000      # characters accepted at all (a whole claim set)
MAX_WORDS = 256         # distinct words kept (ES multi_match: words x text fields clauses)
_WORD = re.compile(r"\w+")


def key_words(text: str, limit: int = MAX_WORDS) -> list[str]:
    """The most frequent words of ``text`` (case-folded, no stop words, no single characters or bare
    numbers), at most ``limit``, in the order they first appear."""
    words = [w for w in _WORD.findall(text.casefold())
             if w not in STOP_WORDS and len(w) > 1 and not w.isdigit()]
    counts = Counter(words)
    first = {w: i for i, w in reversed(list(enumerate(words)))}
    kept = set(sorted(counts, key=lambda w: (-counts[w], first[w]))[:limit])
    return [w for w in dict.fromkeys(words) if w in kept]


def as_plain_words(text: str) -> str:
    """``text`` itself when short; a long text as its key words joined by spaces."""
    return " ".join(key_words(text)) if len(text) > LONG_TEXT else text
