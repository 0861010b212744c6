"""Which figures a drawing sheet holds: the ``description-of-drawings`` figures (``FIG. 3A``, ``FIGS. 3A and
3B``) mapped onto the sheets (``-D00003.TIF``, a scanned PDF's drawing pages).

USPTO's XML numbers sheets, not figures: "FIGS. 3A and 3B" may share sheet 3 while FIG. 4 is on sheet 5.
:func:`map_sheets` pins the labels read on a sheet (OCR, :func:`backend.ingest.ocr.figure_labels`) and fills
the sheets between pinned ones with the described figures between them, in order; without any reading,
as many sheets as figures map one to one, as many sheets as description paragraphs take one paragraph
each, anything else is spread in order (the caller says the mapping is a guess).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from backend.ingest.figure_text import FigureText, _split_figures, parse_figure_text
from backend.ingest.ocr import label_key

_SENTENCE_FIG = re.compile(r"(?<=[.:])\s+(?=(?:the\s+)?fig(?:ure|s?\.?)\s*\d)", re.IGNORECASE)
_KEY = re.compile(r"(\d+)([A-Z]?)$")
_LETTER_RANGE = re.compile(r"(\d+)\s*\(?([A-Za-z])\)?\s*(?:-|–|to|through)\s*"
                           r"(?:fig(?:ure|s?\.?)\s*)?(\d+)?\s*\(?([A-Za-z])\)?", re.IGNORECASE)


@dataclass
class Described:
    key: str                 # "3A"
    text: FigureText
    group: int               # the description sentence it came from (figures described together)


def order(key: str) -> tuple[int, str]:
    m = _KEY.match(key)
    return (int(m.group(1)), m.group(2)) if m else (10**6, key)


def described_figures(paragraphs: list[str]) -> list[Described]:
    """Every described figure label in order, letter ranges spelled out ("FIGS. 3A-3D": 3A, 3B, 3C, 3D)."""
    out: dict[str, Described] = {}
    group = 0
    last_object: str | None = None
    for para in paragraphs:
        for part in (s for chunk in _SENTENCE_FIG.split(para or "") for s in _split_figures(chunk)):
            parsed = parse_figure_text(part)
            if parsed is None:
                continue
            group += 1
            if parsed.object_name:   # "... view thereof": the object named last (as parse_descriptions does)
                last_object = parsed.object_name
            else:
                parsed.object_name = last_object
            keys = [label_key(*_KEY.match(lab.replace("FIG. ", "")).groups())
                    for lab in parsed.labels if _KEY.match(lab.replace("FIG. ", ""))]
            for m in _LETTER_RANGE.finditer(part[:120]):
                if m.group(3) in (None, m.group(1)) and m.group(2).upper() < m.group(4).upper():
                    keys += [label_key(m.group(1), chr(c))
                             for c in range(ord(m.group(2).upper()), ord(m.group(4).upper()) + 1)]
            for key in keys:
                out.setdefault(key, Described(key, parsed, group))
    lettered = {order(k)[0] for k in out if not k.isdigit()}
    # "FIG. 7(a) to FIG. 7(c)": the lettered figures, not a "FIG. 7" besides them
    return sorted((d for k, d in out.items() if not (k.isdigit() and int(k) in lettered)), key=lambda d: order(d.key))


def needs_reading(described: list[Described], sheets: int) -> bool:
    """Whether the sheets' labels must be read: the description alone maps them only when there are as
    many sheets as described figures."""
    numbers = {order(d.key)[0] for d in described}
    return bool(described) and sheets > 0 and sheets not in (len(described), len(numbers))


def map_sheets(described: list[Described], sheets: int, found: list[list[str]] | None = None) -> list[list[str]]:
    """The figure keys on each of ``sheets`` sheets. ``found``: the labels read on each sheet (None: none
    read). Labels read on a sheet win; the figures between two read sheets fill the unread sheets between
    them in order."""
    keys = [d.key for d in described]
    pinned: list[list[str]] = [[] for _ in range(sheets)]
    if found:
        read = {k for f in found for k in f}
        # a figure described without its letters ("FIG. 7" for "FIG. 7(a) to 7(c)") is the lettered ones read
        keys = [k for k in keys if not (k.isdigit() and any(r != k and order(r)[0] == int(k) for r in read))]
        universe = sorted(set(keys) | read, key=order)
        last = (-1, "")
        for i, labels in enumerate(found[:sheets]):
            keep = sorted((k for k in dict.fromkeys(labels) if order(k) > last), key=order)
            pinned[i] = keep
            if keep:
                last = order(keep[-1])
        keys = universe
    groups = {d.key: d.group for d in described}
    out = [list(p) for p in pinned]
    placed = {k for p in pinned for k in p}
    prev = -1
    for r in [s for s in range(sheets) if pinned[s]] + [sheets]:
        # the unread sheets (prev, r) between read sheet prev and read sheet r
        low = order(pinned[prev][-1]) if prev >= 0 else None
        high = order(pinned[r][0]) if r < sheets else None
        between = [k for k in keys if k not in placed and (low is None or order(k) > low)
                   and (high is None or order(k) < high)]
        if r - prev > 1:
            for offset, chunk in enumerate(_spread(between, r - prev - 1, groups)):
                out[prev + 1 + offset].extend(chunk)
        elif between and sheets:   # no unread sheet between two read ones: the figures share the sheet before
            out[prev if prev >= 0 else r].extend(between)
        placed.update(between)
        prev = r
    return [sorted(dict.fromkeys(o), key=order) for o in out]


def _spread(keys: list[str], sheets: int, groups: dict[str, int]) -> list[list[str]]:
    """``keys`` over ``sheets`` sheets in order: one each, one figure number (3A, 3B) or one description
    sentence each when that fits, else as evenly as possible (earlier sheets take the extra)."""
    if len(keys) <= sheets:
        return [[k] for k in keys] + [[] for _ in range(sheets - len(keys))]
    by_number: dict[int, list[str]] = {}
    by_group: dict[int, list[str]] = {}
    for k in keys:
        by_number.setdefault(order(k)[0], []).append(k)
        by_group.setdefault(groups.get(k, -1 - len(by_group)), []).append(k)
    for split in (by_number, by_group):   # one figure number a sheet, else one description sentence
        if len(split) == sheets:
            return list(split.values())
    size, extra = divmod(len(keys), sheets)
    out, start = [], 0
    for s in range(sheets):
        n = size + (1 if s < extra else 0)
        out.append(keys[start:start + n])
        start += n
    return out


def sheet_label(keys: list[str]) -> str:
    if not keys:
        return ""
    return f"FIG. {keys[0]}" if len(keys) == 1 else f"FIGS. {', '.join(keys[:-1])} and {keys[-1]}"


def sheet_description(keys: list[str], described: list[Described]) -> tuple[str, FigureText | None]:
    """The descriptions of the figures on a sheet (each sentence once) and the first figure's parse."""
    by_key = {d.key: d for d in described}
    by_number: dict[int, Described] = {}
    for d in described:
        by_number.setdefault(order(d.key)[0], d)
    texts: list[FigureText] = []
    for k in keys:
        d = by_key.get(k) or by_number.get(order(k)[0])
        if d is not None and all(t is not d.text for t in texts):
            texts.append(d.text)
    return " ".join(t.description for t in texts), (texts[0] if texts else None)


_LABEL_CACHE: dict[str, list[str]] = {}


def read_sheet_labels(images: list[bytes | None]) -> list[list[str]]:
    """OCR the figure labels of each sheet (cached by content: a re-ingest does not read them again)."""
    import hashlib
    import io

    from PIL import Image

    from backend.ingest import ocr

    found = []
    for data in images:
        if not data:
            found.append([])
            continue
        digest = hashlib.sha256(data).hexdigest()
        if digest not in _LABEL_CACHE:
            try:
                with Image.open(io.BytesIO(data)) as im:
                    im.seek(0)
                    _LABEL_CACHE[digest] = ocr.figure_labels(im)
            except (OSError, ValueError, ocr.OcrUnavailable):
                _LABEL_CACHE[digest] = []   # an unreadable sheet fails later, in rendering, with the reason
            if len(_LABEL_CACHE) > 4096:
                _LABEL_CACHE.pop(next(iter(_LABEL_CACHE)))
        found.append(_LABEL_CACHE[digest])
    return found


def figure_records(paragraphs: list[str], sheets: list[tuple[int, object]], read_images=None,
                   notes: list[str] | None = None) -> list:
    """One :class:`FigureRecord` per drawing sheet ``(sheet number, ImageRef or None)``, labelled with the
    figures it holds. ``read_images()`` returns the sheets' bytes when their labels must be read (None: do
    not read); a guessed mapping is said in ``notes``."""
    from backend.ingest import ocr
    from backend.ingest.records import FigureRecord

    described = described_figures(paragraphs)
    found = None
    if described and needs_reading(described, len(sheets)):
        if read_images is not None and ocr.available():
            found = read_sheet_labels(read_images())
        elif notes is not None:
            why = ocr.missing_reason() if read_images is not None else "reading sheet labels is off"
            notes.append(f"{len(described)} described figures on {len(sheets)} sheets: which figure is on which "
                         f"sheet is guessed from the order ({why})")
    mapping = map_sheets(described, len(sheets), found)
    figures = []
    for (number, image), keys in zip(sheets, mapping):
        description, first = sheet_description(keys, described)
        figures.append(FigureRecord(
            number=number, label=sheet_label(keys) or f"Sheet {number}", description=description,
            viewpoint=first.viewpoint if first else None, object_name=first.object_name if first else None,
            image=image, keys=list(keys)))
    return figures
