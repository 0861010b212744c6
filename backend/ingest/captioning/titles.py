"""Titles of classification symbols for captions: CPC via ``backend.classification`` when it offers a
title lookup, else straight from the CPC title list (``settings.cpc_titles_dir``); Locarno class headings."""
from __future__ import annotations

import functools
import re
from pathlib import Path

from backend.ingest.captioning.vocabulary import LOCARNO_CLASSES


def locarno_title(symbol: str) -> str | None:
    return LOCARNO_CLASSES.get((symbol or "")[:2])


@functools.lru_cache(maxsize=16)
def _section_titles(directory: str, section: str) -> dict[str, str]:
    titles: dict[str, str] = {}
    for path in sorted(Path(directory).glob(f"cpc-section-{section}_*.txt")):
        with path.open(encoding="utf-8", errors="replace") as fh:
            for line in fh:
                parts = line.rstrip("\r\n").split("\t")
                if len(parts) >= 3:
                    titles[parts[0].replace(" ", "")] = parts[2]
    return titles


def _core_lookup(symbol: str) -> str | None:
    try:
        import backend.classification as core
    except ImportError:
        return None
    for name in ("cpc_title", "title", "get_title"):
        fn = getattr(core, name, None)
        if callable(fn):
            try:
                title = fn(symbol)
            except Exception:  # the core's lookup refused the symbol: fall back to the list
                return None
            if isinstance(title, str):
                return title
            return getattr(title, "title", None)
    return None


def cpc_titles(symbol: str, directory: Path | None) -> list[str]:
    """Subclass and group titles for one symbol (most general first), without reference brackets."""
    sym = (symbol or "").replace(" ", "").upper()
    if len(sym) < 4:
        return []
    out: list[str] = []
    candidates = [sym[:4]] + ([f"{sym.split('/')[0]}/00", sym] if "/" in sym else [])
    for cand in dict.fromkeys(candidates):
        title = _core_lookup(cand)
        if title is None and directory is not None and Path(directory).is_dir():
            title = _section_titles(str(directory), cand[0]).get(cand)
        if title:
            title = re.sub(r"\s*\([^()]*\)", "", title).strip(" ;")
            if title and title not in out:
                out.append(title)
    return out
