"""Figure descriptions: "FIG. 1 is a front left perspective view of a chair;" -> number, viewpoint, object.

Used by every parser (USPTO ``description-of-drawings``, DeepPatent2 ``origreftext``, API metadata) and by
the template captioner (viewpoint synonyms).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

# "FIG. 1", "FIGS. 1 and 2", "FIGS. 3-5", "FIG. 1A", "The FIGURE", "Fig 2"
_LEAD = re.compile(
    r"^\s*(?:the\s+)?(?P<word>figures?|figs?\.?)\s*(?P<nums>(?:\d+[A-Za-z]?(?:\s*(?:,|and|&|-|–|to|through)\s*)?)*)",
    re.IGNORECASE,
)
_NUM = re.compile(r"(\d+)([A-Za-z]?)")
_VERB = re.compile(r"^\s*(?:is|are|shows?|illustrates?|depicts?|represents?|presents?|describes?|provides?)"
                   r"\s+(?:an?\s+|the\s+)?", re.IGNORECASE)
# "<viewpoint> view(s) of <object>" / "<viewpoint> of <object>" for drawings named without "view"
_VIEW_WORD = re.compile(r"\bviews?\b", re.IGNORECASE)
_VIEW_STOP = re.compile(r"\b(?:of|thereof|for|taken|showing|with)\b|;", re.IGNORECASE)
_DIAGRAM = re.compile(r"^(?P<vp>(?:schematic\s+|simplified\s+|functional\s+)?(?:block\s+diagram|flow\s*chart|"
                      r"flow\s+diagram|circuit\s+diagram|timing\s+diagram|schematic(?:\s+diagram)?|graph|"
                      r"diagram|chart|table|plot|illustration))\b(?P<rest>.*)$", re.IGNORECASE)
_OBJECT_CUT = re.compile(
    r"(?:;|:|\.\s|\.$|,\s|\s+(?:of|in|as\s+shown\s+in)\s+figs?\b|(?:^|\s+)(?:according\s+to|in\s+accordance\s+with|showing|illustrating|which|that|"
    r"wherein|where|when|as\s+shown|shown\s+in|taken\s+along|in\s+(?:a|an|the)\s+\w+\s+(?:state|position|"
    r"configuration|condition)|of\s+the\s+present|embodying|made\s+in|constructed)\b)",
    re.IGNORECASE)
_OBJECT_PREFIX = re.compile(
    r"^(?:(?:of|for|on|showing|illustrating|depicting)\s+)?(?:(?:an?|the|one|first|second|third|another|other)\s+)*"
    r"(?:(?:ornamental\s+)?design\s+(?:for|of)\s+(?:an?\s+|the\s+)?)?"
    r"(?:(?:\w+\s+)?embodiment\s+of\s+(?:an?\s+|the\s+)?)?"
    r"(?:(?:claimed|new|present|inventive)\s+(?:design\s+(?:for|of)\s+)?)?(?:an?\s+|the\s+)?",
    re.IGNORECASE)

DIRECTIONS = ("front", "rear", "back", "left", "right", "top", "bottom", "upper", "lower", "side", "underside")
KINDS = ("perspective", "plan", "elevation", "elevational", "sectional", "cross-sectional", "exploded",
         "enlarged", "isometric", "detail", "partial", "close-up", "orthographic", "environmental")


_VIEW_WORDS_ONLY = re.compile(
    r"^(?P<vp>(?:(?:" + "|".join(map(re.escape, DIRECTIONS + KINDS + ("elevation", "right-side", "left-side")))
    + r")[\s,]*)+)(?=\b(?:of|thereof)\b|$)", re.IGNORECASE)


@dataclass
class FigureText:
    numbers: list[int]
    labels: list[str]
    description: str
    viewpoint: str | None
    object_name: str | None


def _numbers(text: str) -> tuple[list[int], list[str]]:
    nums: list[int] = []
    labels: list[str] = []
    tokens = list(_NUM.finditer(text))
    for i, m in enumerate(tokens):
        n, suffix = int(m.group(1)), m.group(2).upper()
        between = text[tokens[i - 1].end():m.start()] if i else ""
        if i and re.search(r"-|–|to|through", between) and not suffix and nums and not labels[-1][-1:].isalpha():
            for k in range(nums[-1] + 1, n + 1):
                nums.append(k)
                labels.append(f"FIG. {k}")
            continue
        nums.append(n)
        labels.append(f"FIG. {n}{suffix}")
    return nums, labels


def clean_viewpoint(text: str) -> str | None:
    """"top view perspective" -> "top perspective"; "front elevational" -> "front elevation"."""
    words = re.sub(r"[^a-z\- ]", " ", text.lower()).split()
    words = [w for w in words if w not in ("view", "views", "a", "an", "the", "of", "and", "from", "showing",
                                           "taken", "similar", "another", "other", "enlarged-scale")]
    words = ["elevation" if w == "elevational" else w for w in words]
    vp = " ".join(words).strip()
    return vp[:64] or None


def clean_object(text: str) -> str | None:
    text = re.sub(r"\s+", " ", text or "").strip()
    text = _OBJECT_PREFIX.sub("", text, count=1)
    text = _OBJECT_CUT.split(text, maxsplit=1)[0]
    text = text.strip(" .;:,")
    if not text or text.lower() in ("thereof", "same", "it", "the same", "the design", "design"):
        return None
    # "the one embodiment", "the present invention": the object named earlier
    if re.fullmatch(r"(?:(?:one|another|other|first|second|third|alternate|alternative)\s+)?embodiments?|"
                    r"(?:present\s+)?invention", text, re.IGNORECASE):
        return None
    text = re.sub(r"\s+thereof$", "", text, flags=re.IGNORECASE)
    return text[:255] or None


def _view_split(text: str) -> tuple[str, str] | None:
    """Split at the last "view" before the object starts ("top view perspective view of X")."""
    best = None
    for m in _VIEW_WORD.finditer(text):
        if _VIEW_STOP.search(text[:m.start()]):
            break
        best = m
    return (text[:best.start()], text[best.end():]) if best else None


def parse_figure_text(text: str) -> FigureText | None:
    """Parse one figure description; None when it does not start with a figure reference."""
    text = re.sub(r"\s+", " ", text or "").strip()
    m = _LEAD.match(text)
    if not m:
        return None
    word, nums_text = m.group("word"), m.group("nums") or ""
    numbers, labels = _numbers(nums_text)
    if not numbers:
        if word.lower().startswith("figure") and word.lower() != "figures":   # "The FIGURE is ..."
            numbers, labels = [1], ["FIGURE"]
        else:
            return None
    rest = _VERB.sub("", text[m.end():], count=1)
    viewpoint = object_name = None
    dm = _DIAGRAM.match(rest)
    vm = _view_split(rest) if not dm else None
    if dm:
        viewpoint = clean_viewpoint(dm.group("vp"))
        object_name = clean_object(dm.group("rest"))
    elif vm and len(vm[0]) <= 80:
        viewpoint = clean_viewpoint(vm[0])
        object_name = clean_object(vm[1])
    else:
        lead = _VIEW_WORDS_ONLY.match(rest)   # "a front elevational of the housing"
        if lead:
            viewpoint = clean_viewpoint(lead.group("vp"))
            rest = rest[lead.end():]
        object_name = clean_object(rest)
    return FigureText(numbers, labels, text.rstrip(" ;,"), viewpoint, object_name)


_HAGUE_DESIGN = re.compile(r"^\s*(\d+)\.\s+(?P<object>\D.*)$")
_HAGUE_VIEW = re.compile(r"^\s*(?P<label>\d+\.\d+)\s*:\s*(?P<view>.+)$")


# "...enlarged scale; FIG. 2 is a front view...; and, FIG. 3 is ..." - several figures in one paragraph
_NEXT_FIGURE = re.compile(r";\s*(?:and\s*,?\s*)?(?=(?:the\s+)?fig(?:ure|s?\.?)\s*\d)", re.IGNORECASE)
# "FIG. 1is a flow-chart" (a missing space in some old full texts)
_GLUED_VERB = re.compile(r"\b(figs?\.?\s*\d+)(is|are|shows?|illustrates?|depicts?)\b", re.IGNORECASE)


def _split_figures(paragraph: str | None) -> list[str]:
    text = _GLUED_VERB.sub(r"\1 \2", paragraph or "")
    return [part.strip() for part in _NEXT_FIGURE.split(text) if part.strip()]


def parse_descriptions(paragraphs: list[str]) -> dict[int, FigureText]:
    """Figure number -> parsed description; "thereof" objects inherit the last object named.

    Also reads the Hague (international design) style: "1. Belt buckle" then "1.1 : Perspective", ...;
    those figures are numbered in order of appearance."""
    out: dict[int, FigureText] = {}
    last_object: str | None = None
    hague = 0
    for para in (part for p in paragraphs for part in _split_figures(p)):
        hv = _HAGUE_VIEW.match(para or "")
        if hv:
            hague += 1
            view = hv.group("view").strip(" .;")
            vp = clean_viewpoint(view)
            desc = f"{hv.group('label')}: {view} view" + (f" of {last_object}" if last_object else "")
            out.setdefault(hague, FigureText([hague], [hv.group("label")], desc, vp, last_object))
            continue
        hd = _HAGUE_DESIGN.match(para or "")
        if hd and not _LEAD.match(para):
            last_object = clean_object(hd.group("object").lower())
            continue
        parsed = parse_figure_text(para)
        if parsed is None:
            continue
        if parsed.object_name:
            last_object = parsed.object_name
        else:
            parsed.object_name = last_object
        for n, label in zip(parsed.numbers, parsed.labels):
            if n not in out:
                out[n] = FigureText([n], [label], parsed.description, parsed.viewpoint, parsed.object_name)
    return out
