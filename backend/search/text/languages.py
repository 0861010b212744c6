"""Documents in several languages (EPO publications: English, German, French).

A figure document may carry ``language`` (the publication's own language) and ``texts``: per language
code, the ``title``, ``abstract``, ``claims`` and ``description`` in that language. From them
:func:`derived` makes what the index stores besides the main fields:

* ``titles``: language -> title (what a hit shows in the user's language, :func:`pick_title`);
* for German and French (:data:`lang_analysis.ANALYSED`), one field per text field and language
  (``de_title``, ``de_abstract``, ..., ``fr_description``) holding the analysed tokens
  (:mod:`.lang_analysis`). English text stays in the main fields (``title``, ``abstract``...), analysed
  by the engine's English chain, as for every other source.

A query searches the languages the request names (``languages``, default all): English in the main
fields, German and French in their fields with the query analysed the same way.
"""
from __future__ import annotations

from backend.search.text import lang_analysis, text_fields

#: every language a request may name; "en" is the main fields
LANGUAGES = ("en", "de", "fr")
ANALYSED = lang_analysis.ANALYSED
#: the per-language text parts (captions are generated in English and stay in the main fields)
PARTS = ("title", "abstract", "claims", "description")


def field(lang: str, part: str) -> str:
    return f"{lang}_{part}"


#: every per-language index field, in a fixed order (the embedded FTS table's column order)
FIELDS: tuple[str, ...] = tuple(field(lang, part) for lang in ANALYSED for part in PARTS)


def weight(name: str) -> float:
    """The BM25 weight of a per-language field: that of its part in the main fields."""
    return float(text_fields.FIELD_WEIGHTS[name.split("_", 1)[1]])


def es_fields(lang: str) -> list[str]:
    """``multi_match`` fields of ``lang`` with the shared weights (``de_claims^0.5``)."""
    out = []
    for part in PARTS:
        w = text_fields.FIELD_WEIGHTS[part]
        if w > 0:
            out.append(field(lang, part) if w == 1 else f"{field(lang, part)}^{w:g}")
    return out


def check_texts(texts: object, where: str) -> dict[str, dict[str, str]]:
    """``texts`` validated: known language codes, known parts, strings (raises ValueError naming the fault)."""
    if texts in (None, {}):
        return {}
    if not isinstance(texts, dict):
        raise ValueError(f"{where}: texts must be an object of language -> {{title, abstract, claims, description}}")
    out: dict[str, dict[str, str]] = {}
    for lang, parts in texts.items():
        code = str(lang).strip().lower()
        if code not in LANGUAGES:
            raise ValueError(f"{where}: texts has unknown language {lang!r} (known: {', '.join(LANGUAGES)})")
        if not isinstance(parts, dict):
            raise ValueError(f"{where}: texts.{code} must be an object of {', '.join(PARTS)}")
        unknown = sorted(set(parts) - set(PARTS))
        if unknown:
            raise ValueError(f"{where}: texts.{code} has unknown part(s) {', '.join(map(str, unknown))}")
        kept = {p: str(parts[p]) for p in PARTS if parts.get(p) not in (None, "")}
        if kept:
            out[code] = kept
    return out


def derived(texts: dict[str, dict[str, str]]) -> dict:
    """``titles`` and the analysed per-language fields of validated ``texts`` (empty strings where a
    language or part is missing)."""
    out: dict = {"titles": {lang: parts["title"] for lang, parts in texts.items() if parts.get("title")}}
    for lang in ANALYSED:
        parts = texts.get(lang) or {}
        for part in PARTS:
            out[field(lang, part)] = lang_analysis.index_text(parts.get(part, ""), lang)
    return out


def check_languages(values: list[str]) -> list[str]:
    """Request ``languages``: lower-cased, known, each once, at least one."""
    out: list[str] = []
    for raw in values:
        code = str(raw).strip().lower()
        if code not in LANGUAGES:
            raise ValueError(f"unknown language {raw!r} (known: {', '.join(LANGUAGES)})")
        if code not in out:
            out.append(code)
    if not out:
        raise ValueError(f"name at least one language ({', '.join(LANGUAGES)}), or leave it out for all")
    return out


def pick_title(default: str, titles: dict[str, str] | None, lang: str | None) -> str:
    """The title in ``lang`` when the document has one, else ``default`` (the main title)."""
    if lang and titles and titles.get(lang):
        return titles[lang]
    return default


def from_accept_language(header: str | None) -> str | None:
    """The first language of an ``Accept-Language`` header (by q, then order) that documents can have."""
    if not header:
        return None
    ranked = []
    for i, item in enumerate(header.split(",")):
        tag, _, params = item.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        code = tag.strip().split("-")[0].lower()
        if code in LANGUAGES and q > 0:
            ranked.append((-q, i, code))
    return min(ranked)[2] if ranked else None
