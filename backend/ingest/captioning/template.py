"""The default captioner: deterministic, several synonym-rich captions per figure from the figure
description, its viewpoint, the object named, the title and the titles of its classification symbols."""
from __future__ import annotations

import re
from pathlib import Path

from backend.ingest.captioning.base import FigureContext
from backend.ingest.captioning.titles import cpc_titles, locarno_title
from backend.ingest.captioning.vocabulary import viewpoint_synonyms, with_article

_FIG_LEAD = re.compile(r"^\s*(?:the\s+)?fig(?:ure|s)?\.?\s*[\dA-Za-z ,\-–and&]*?\s+(?:is|are|shows?|illustrates?|"
                       r"depicts?|describes?|represents?)\s+", re.IGNORECASE)


def _clean_description(text: str, object_name: str | None) -> str:
    text = _FIG_LEAD.sub("", text or "").strip(" .;,")
    text = re.sub(r"\s+thereof\b", f" of {with_article(object_name)}" if object_name else "", text)
    text = re.sub(r"\s*;?\s*and$", "", text)
    return re.sub(r"\s+", " ", text).strip()


class TemplateCaptioner:
    name = "template"

    def __init__(self, cpc_titles_dir: Path | None = None, max_captions: int = 5):
        self.cpc_titles_dir = cpc_titles_dir
        self.max_captions = max_captions

    def caption(self, figures: list[FigureContext]) -> list[list[str]]:
        return [self.caption_one(f) for f in figures]

    def caption_one(self, fig: FigureContext) -> list[str]:
        design = (fig.kind or "").upper().startswith("S") or fig.publication_number[2:3] == "D"
        obj = fig.object_name or (fig.title.lower() if fig.title else None)
        views = viewpoint_synonyms(fig.viewpoint)
        category = []
        for sym in fig.locarno[:2]:
            title = locarno_title(sym)
            if title:
                category.append(title.lower())
        for sym in fig.cpc[:2]:
            category.extend(t.lower() for t in cpc_titles(sym, self.cpc_titles_dir)[-2:])
        category = list(dict.fromkeys(category))
        kind_words = "ornamental design drawing" if design else "patent drawing"

        captions: list[str] = []
        described = _clean_description(fig.description, obj)
        if described:
            captions.append(described[0].upper() + described[1:])
        if obj and views:
            captions.append(f"{views[0].capitalize()} of {with_article(obj)}")
            if len(views) > 1:
                alt = ", ".join(views[1:4])
                captions.append(f"{obj.capitalize()} shown in {with_article(alt)}; {kind_words}")
        elif obj:
            captions.append(f"{kind_words.capitalize()} of {with_article(obj)}")
        elif views:
            captions.append(f"{views[0].capitalize()}, {', '.join(views[1:3])}")
        if fig.title and (not obj or fig.title.lower() != obj.lower()):
            captions.append(f"{kind_words.capitalize()} from \"{fig.title}\"" + (f", {views[0]}" if views else ""))
        if category:
            subject = obj or fig.title.lower() or "the claimed article"
            captions.append(f"{subject.capitalize()}: {'; '.join(category[:3])}")
        if not captions:
            captions.append(f"{kind_words.capitalize()} {fig.label or fig.number} of {fig.publication_number}")
        return list(dict.fromkeys(c.strip() for c in captions if c.strip()))[: self.max_captions]
