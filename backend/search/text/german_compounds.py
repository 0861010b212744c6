"""A dictionary-based German compound splitter (``Befestigungsschraube`` -> ``befestigung``, ``schraube``).

The dictionary is the German word list that the ``wordfreq`` package ships (offline, no download): words
of at least :data:`MIN_PART` letters whose Zipf frequency is at least :data:`MIN_ZIPF`. A word is split
when it can be cut entirely into dictionary words, each optionally followed by a linking element
(*Fugenelement*: ``s``, ``es``, ``n``, ``en``, ``er``, ``e``); among several cuts the one whose parts have
the highest geometric mean of their frequencies wins (Koehn & Knight, 2003), each part beyond the first
costing a factor of ten. Each part is split again (``Steuerungseinrichtungsgehäuse`` -> ``steuerung``,
``einrichtung``, ``gehäuse``). Lucene's
``DictionaryCompoundWordTokenFilter`` does the same kind of thing inside Elasticsearch; doing it here
means the embedded backend and a cluster without the analysis-common module split alike.
"""
from __future__ import annotations

import functools
import math

#: shortest part kept (shorter pieces such as "hof" or "ei" are too ambiguous to split on)
MIN_PART = 4
#: shortest word tried (two parts of MIN_PART letters)
MIN_WORD = 2 * MIN_PART
#: the least Zipf frequency (log10 per billion words) of a dictionary word
MIN_ZIPF = 3.0
#: linking elements tried between two parts, longest first
LINKS = ("es", "en", "er", "s", "n", "e")
MAX_WORD = 60
#: what each part beyond the first costs, in log frequency (one Zipf unit): ``Steuerungseinrichtung`` is
#: ``steuerung`` + ``einrichtung``, not ``steuerung`` + ``sein`` + ``richtung``
PART_COST = math.log(10)


@functools.lru_cache(maxsize=1)
def dictionary() -> dict[str, float]:
    """German word -> log frequency, for the words a split may use (loaded once, about 0.5 s)."""
    from wordfreq import get_frequency_dict

    floor = 10 ** (MIN_ZIPF - 9)
    return {w: math.log(f) for w, f in get_frequency_dict("de", "large").items()
            if f >= floor and len(w) >= MIN_PART and w.isalpha()}


def split(word: str) -> list[str]:
    """The parts of a German compound, lower-cased (``[]`` when ``word`` is not a compound of
    dictionary words)."""
    word = word.casefold()
    if not (MIN_WORD <= len(word) <= MAX_WORD) or not word.isalpha():
        return []
    cuts = _cuts(word)
    return list(max(cuts, key=_rank)[1]) if cuts else []


def _rank(option: tuple[float, tuple[str, ...]]) -> tuple[float, int]:
    """Mean log frequency of the parts, less :data:`PART_COST` per part beyond the first."""
    total, parts = option
    return total / len(parts) - PART_COST * (len(parts) - 1), -len(parts)


@functools.lru_cache(maxsize=100_000)
def _best(word: str) -> tuple[float, tuple[str, ...]] | None:
    """(summed log frequency, parts) of the best reading of ``word``: itself when it is a dictionary word
    more frequent than any cut of it, else its best cut; None when neither exists."""
    words = dictionary()
    options = _cuts(word)
    if word in words:
        options.append((words[word], (word,)))
    return max(options, key=_rank) if options else None


def _cuts(word: str) -> list[tuple[float, tuple[str, ...]]]:
    """Every first cut of ``word`` (a dictionary word, a linking element, the best reading of the rest)."""
    words = dictionary()
    options: list[tuple[float, tuple[str, ...]]] = []
    for cut in range(MIN_PART, len(word) - MIN_PART + 1):
        head, rest = word[:cut], word[cut:]
        if head not in words:
            continue
        tails = [rest] + [rest[len(link):] for link in LINKS if rest.startswith(link)]
        for tail in tails:
            if len(tail) < MIN_PART:
                continue
            found = _best(tail)
            if found is None:
                continue
            total, parts = found
            options.append((words[head] + total, (head, *parts)))
    return options
