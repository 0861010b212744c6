"""Text analysis per language, done in Python so both backends (and any Elasticsearch) analyse alike.

:func:`analyse` turns German or French text into the tokens that are indexed (and a query into the
tokens it looks for): words, lower-cased, stop words dropped, French elisions (``l'``, ``d'``...) removed,
German compounds split (:mod:`.german_compounds`: the whole word *and* its parts are kept), Snowball
stemming (PyStemmer), accents folded. The index stores the tokens joined by spaces in per-language fields
that the engines only split on whitespace (ES ``whitespace`` analyzer, FTS5 ``unicode61``), so the
dev cluster without analysis-common, a full cluster and SQLite FTS5 give the same matches.

English is not analysed here: it stays in the existing text fields with the engines' English chain.
"""
from __future__ import annotations

import functools
import re
import unicodedata

import Stemmer

from backend.search.text import german_compounds
from backend.search.text.stop_words import LANGUAGE_STOP_WORDS

#: languages analysed here; English uses the engines' own chain on the main text fields
ANALYSED = ("de", "fr")
_STEMMER_NAMES = {"de": "german", "fr": "french"}
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


@functools.lru_cache(maxsize=4)
def _stemmer(lang: str) -> Stemmer.Stemmer:
    return Stemmer.Stemmer(_STEMMER_NAMES[lang])


def fold(token: str) -> str:
    """Accents removed (``é`` -> ``e``, ``ß`` -> ``ss``), so either spelling matches."""
    text = unicodedata.normalize("NFKD", token.replace("ß", "ss"))
    return "".join(c for c in text if not unicodedata.combining(c))


def words(text: str, lang: str) -> list[str]:
    """Lower-cased words of ``text`` without stop words (French elisions split off and dropped)."""
    if lang not in ANALYSED:
        raise ValueError(f"no analysis for language {lang!r} (analysed here: {', '.join(ANALYSED)})")
    stop = LANGUAGE_STOP_WORDS[lang]
    return [w for w in _WORD.findall(text.casefold()) if w not in stop]


def analyse(text: str, lang: str) -> list[str]:
    """The index tokens of ``text`` in ``lang`` (German compounds: the word, then its parts)."""
    found = words(text or "", lang)
    stem = _stemmer(lang).stemWord
    out: list[str] = []
    for word in found:
        out.append(fold(stem(word)))
        if lang == "de":
            out.extend(fold(stem(part)) for part in german_compounds.split(word))
    return out


def query_tokens(text: str, lang: str) -> list[str]:
    """What a query looks for in ``lang``: its analysed tokens, each once, in order."""
    return list(dict.fromkeys(analyse(text, lang)))


def index_text(text: str, lang: str) -> str:
    """The analysed tokens joined by spaces: what a per-language field stores."""
    return " ".join(analyse(text, lang))
