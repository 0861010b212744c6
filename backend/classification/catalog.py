"""Official title lists: CPC (TSV TitleList files, loaded lazily) and the Locarno class headings.

The CPC list is the format the CPC publishes (``symbol<TAB>level<TAB>title``, CRLF), one file per
section, found in ``settings.cpc_titles_dir``. When that folder is absent, symbols are checked for
syntax only and have no titles.
"""
from __future__ import annotations

import bisect
import functools
import json
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from backend.classification.symbols import Symbol, SymbolError, parse

log = logging.getLogger(__name__)
LOCARNO_FILE = Path(__file__).with_name("data") / "locarno_classes.json"
LOCARNO_SUBCLASS_FILE = Path(__file__).with_name("data") / "locarno_subclasses.json"


@dataclass(frozen=True)
class Entry:
    symbol: str
    title: str
    level: str          # "" for section/class/subclass, "0" main group, "1".. subgroup depth


class CpcCatalog:
    """Symbol -> title for the whole CPC, read on first use from the TitleList TSV files."""

    def __init__(self, directory: Path | None):
        self.directory = Path(directory) if directory else None
        self._titles: dict[str, tuple[str, str]] | None = None
        self._sorted: list[str] = []
        self._vocab: list[str] | None = None
        self._postings: dict[str, list[str]] = {}
        self._lock = threading.Lock()
        self.index_builds = 0       # how many times the title-word index was built (once per catalog)

    @property
    def available(self) -> bool:
        return bool(self.directory and self.directory.is_dir() and any(self.directory.glob("*.txt")))

    def _load(self) -> dict[str, tuple[str, str]]:
        if self._titles is not None:
            return self._titles
        with self._lock:
            if self._titles is None:
                titles: dict[str, tuple[str, str]] = {}
                if self.available:
                    for path in sorted(self.directory.glob("*.txt")):
                        with open(path, encoding="utf-8", newline="") as fh:
                            for line in fh:
                                parts = line.rstrip("\r\n").split("\t")
                                if len(parts) >= 3 and parts[0]:
                                    titles[parts[0]] = (parts[1], parts[2])
                    log.info("loaded %d CPC titles from %s", len(titles), self.directory)
                self._sorted = sorted(titles)
                self._titles = titles
        return self._titles

    def __contains__(self, symbol: str) -> bool:
        return symbol in self._load()

    def title(self, symbol: str) -> str | None:
        entry = self._load().get(symbol)
        return entry[1] if entry else None

    def entry(self, symbol: str) -> Entry | None:
        entry = self._load().get(symbol)
        return Entry(symbol, entry[1], entry[0]) if entry else None

    def with_prefix(self, prefix: str, limit: int) -> list[Entry]:
        titles = self._load()
        start = bisect.bisect_left(self._sorted, prefix)
        out = []
        for symbol in self._sorted[start:]:
            if not symbol.startswith(prefix) or len(out) >= limit:
                break
            out.append(Entry(symbol, titles[symbol][1], titles[symbol][0]))
        return out

    def _word_index(self) -> tuple[list[str], dict[str, list[str]]]:
        """(the title words sorted, word -> symbols whose title holds it), built on first use unless
        :meth:`prepare` built it before (a server does that when it starts: backend/warmup.py)."""
        if self._vocab is None:
            import re
            from collections import defaultdict

            titles = self._load()
            with self._lock:
                if self._vocab is None:
                    postings: dict[str, list[str]] = defaultdict(list)
                    for symbol, (_level, title) in titles.items():
                        for word in set(re.findall(r"\w+", title.casefold())):
                            postings[word].append(symbol)
                    self._postings = dict(postings)
                    self._vocab = sorted(postings)
                    self.index_builds += 1
        return self._vocab, self._postings

    @property
    def prepared(self) -> bool:
        """Whether the titles and the title-word index are in memory (a word suggestion builds nothing)."""
        return self._titles is not None and self._vocab is not None

    def prepare(self) -> float:
        """Read the titles and build the title-word index now (a few seconds for the whole CPC), not in the
        first suggestion; returns the seconds it took."""
        started = time.perf_counter()
        self._word_index()
        return time.perf_counter() - started

    def _with_word_prefix(self, prefix: str) -> set[str]:
        vocab, postings = self._word_index()
        out: set[str] = set()
        i = bisect.bisect_left(vocab, prefix)
        while i < len(vocab) and vocab[i].startswith(prefix):
            out.update(postings[vocab[i]])
            i += 1
        return out

    def title_search_any(self, groups: list[frozenset[str]], limit: int) -> list[Entry]:
        """Entries whose title holds, for every group, a word starting with one of the group's words
        (``[{"shoe", "footwear"}]``: titles about footwear), broader entries first."""
        if not groups:
            return []
        found: set[str] | None = None
        for group in groups:
            symbols = set().union(*(self._with_word_prefix(w.casefold()) for w in group))
            found = symbols if found is None else found & symbols
        titles = self._load()
        ordered = sorted(found or (), key=lambda s: (len(s), s))[:limit]
        return [Entry(s, titles[s][1], titles[s][0]) for s in ordered]

    def title_search(self, words: list[str], limit: int) -> list[Entry]:
        titles = self._load()
        words = [w.casefold() for w in words if w]
        out = []
        for symbol in self._sorted:
            level, title = titles[symbol]
            low = title.casefold()
            if all(w in low for w in words):
                out.append(Entry(symbol, title, level))
                if len(out) >= limit:
                    break
        return out


@functools.lru_cache(maxsize=4)
def cpc_catalog(directory: str | None) -> CpcCatalog:
    return CpcCatalog(Path(directory) if directory else None)


def default_cpc_catalog() -> CpcCatalog:
    from backend.settings import get_settings

    return cpc_catalog(str(get_settings().cpc_titles_dir))


@functools.lru_cache(maxsize=1)
def locarno_classes() -> dict[str, str]:
    return dict(json.loads(LOCARNO_FILE.read_text(encoding="utf-8"))["classes"])


@functools.lru_cache(maxsize=1)
def locarno_subclasses() -> dict[str, str]:
    """``"02-04"`` -> ``"Footwear, socks and stockings"`` (the data file names its source)."""
    return dict(json.loads(LOCARNO_SUBCLASS_FILE.read_text(encoding="utf-8"))["subclasses"])


def locarno_title(symbol: str) -> str | None:
    """The title of a Locarno class (``02``) or subclass (``02-04``; its class heading when the subclass is
    not in the list)."""
    return locarno_subclasses().get(symbol) or locarno_classes().get(symbol[:2])


def validate(raw: str, scheme: str, catalog: CpcCatalog | None = None) -> Symbol:
    """Parse ``raw`` and check it against the official list where we have one.

    CPC: the symbol must be in the title list (when the list is present). Locarno: the class must be
    one of the 32 classes. IPC: syntax only.
    """
    symbol = parse(raw, scheme)
    if scheme == "cpc":
        catalog = catalog or default_cpc_catalog()
        if catalog.available and symbol.symbol not in catalog:
            raise SymbolError(scheme, raw, f"{symbol.symbol} is not in the CPC title list")
    elif scheme == "locarno":
        if symbol.klass not in locarno_classes():
            raise SymbolError(scheme, raw, f"class {symbol.klass} is not a Locarno class (01-32)")
    return symbol


def title(symbol: Symbol, catalog: CpcCatalog | None = None) -> str | None:
    if symbol.scheme == "locarno":
        return locarno_title(symbol.symbol)
    if symbol.scheme == "cpc":
        return (catalog or default_cpc_catalog()).title(symbol.symbol)
    return None
