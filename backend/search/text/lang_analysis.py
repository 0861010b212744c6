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

#: languages analysed here; English uses the engines' own chain on the main text fields
ANALYSED = ("de", "fr")
_STEMMER_NAMES = {"de": "german", "fr": "french"}
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
# Snowball's German and French stop word lists, the most common part (articles, pronouns, particles)
STOP_WORDS = {
    "de": frozenset(["aber", "alle", "allem", "allen", "aller", "alles", "als", "also", "am", "an", "ander", "andere", "anderem", "anderen", "anderer", "anderes", "auch", "auf", "aus", "bei", "bin", "bis", "bist", "da", "damit", "dann", "das", "dass", "dasselbe", "dazu", "dein", "deine", "dem", "demselben", "den", "denn", "der", "derer", "derselbe", "derselben", "des", "desselben", "dessen", "dich", "die", "dies", "diese", "dieselbe", "dieselben", "diesem", "diesen", "dieser", "dieses", "dir", "doch", "dort", "du", "durch", "ein", "eine", "einem", "einen", "einer", "eines", "einig", "einige", "einigem", "einigen", "einiger", "einiges", "einmal", "er", "es", "etwas", "euch", "euer", "eure", "für", "gegen", "gewesen", "hab", "habe", "haben", "hat", "hatte", "hatten", "hier", "hin", "hinter", "ich", "ihm", "ihn", "ihnen", "ihr", "ihre", "ihrem", "ihren", "ihrer", "ihres", "im", "in", "indem", "ins", "ist", "jede", "jedem", "jeden", "jeder", "jedes", "jene", "jenem", "jenen", "jener", "jenes", "jetzt", "kann", "kein", "keine", "keinem", "keinen", "keiner", "keines", "können", "könnte", "machen", "man", "manche", "manchem", "manchen", "mancher", "manches", "mein", "meine", "mich", "mir", "mit", "muss", "musste", "nach", "nicht", "nichts", "noch", "nun", "nur", "ob", "oder", "ohne", "sehr", "sein", "seine", "seinem", "seinen", "seiner", "seines", "selbst", "sich", "sie", "sind", "so", "solche", "solchem", "solchen", "solcher", "solches", "soll", "sollte", "sondern", "sonst", "über", "um", "und", "uns", "unser", "unsere", "unter", "viel", "vom", "von", "vor", "während", "war", "waren", "warst", "was", "weil", "welche", "welchem", "welchen", "welcher", "welches", "wenn", "werde", "werden", "wie", "wieder", "will", "wir", "wird", "wirst", "wo", "wollen", "wollte", "würde", "würden", "zu", "zum", "zur", "zwar", "zwischen"]),
    "fr": frozenset(["au", "aux", "avec", "ce", "ces", "dans", "de", "des", "du", "elle", "en", "et", "eux", "il", "ils", "je", "la", "le", "les", "leur", "lui", "ma", "mais", "me", "même", "mes", "moi", "mon", "ne", "nos", "notre", "nous", "on", "ou", "par", "pas", "pour", "qu", "que", "qui", "sa", "se", "ses", "son", "sur", "ta", "te", "tes", "toi", "ton", "tu", "un", "une", "vos", "votre", "vous", "c", "d", "j", "l", "à", "m", "n", "s", "t", "y", "été", "étée", "étées", "étés", "étant", "suis", "es", "est", "sommes", "êtes", "sont", "serai", "sera", "serons", "seront", "ai", "as", "avons", "avez", "ont", "aura", "auront", "avait", "avaient", "eu", "cette", "cet", "lorsque", "selon", "dont", "où", "ledit", "ladite", "lesdits", "lesdites"]),
}


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
    stop = STOP_WORDS[lang]
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
