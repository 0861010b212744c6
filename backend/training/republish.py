"""A realistic re-publication of a patent drawing, as another office (or a later publication) prints it.

``republish(image, rng)`` applies a random subset of what happens between two publications of the
same drawing: a sideways sheet turned by 90 degrees, a small rotation (+-3 deg), a rescale (0.5-2x),
thicker or thinner strokes, the figure label changed or moved, a sheet header line, a frame or border,
cropped margins, scan speckle with bilevel thresholding, and JPEG compression. It is the positive pair
for instance discrimination in training and the query side of the benchmark's re-published-drawing
task. Deterministic for a given ``numpy.random.Generator`` state.
"""
from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from backend.model.drawing import to_grey

VERSION = 3      # bump when the transformations change (training-view caches are keyed by it)
WORK_SIDE = 1024  # the sheet is worked on at about this long side (sheets are 1700-3300 px)

_HEADERS = ("U.S. Patent   {m}. {d}, {y}   Sheet {s} of {n}   US D{num},{k} S",
            "EP {num} {k} A1",
            "Patent Application Publication   {m}. {d}, {y}   Sheet {s} of {n}   US 2021/0{num} A1",
            "GB {num} {k} A   {s}/{n}",
            "FR {num} {k}   PL. {s}/{n}")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _header(rng: np.random.Generator) -> str:
    n = int(rng.integers(2, 12))
    return str(rng.choice(_HEADERS)).format(m=rng.choice(_MONTHS), d=int(rng.integers(1, 29)),
                                            y=int(rng.integers(1980, 2025)), s=int(rng.integers(1, n + 1)), n=n,
                                            num=int(rng.integers(100, 999)), k=f"{int(rng.integers(0, 999)):03d}")


INK = 128            # a pixel darker than this is ink (the realism guards below count it)


def _ink_share(img: Image.Image) -> float:
    return float((np.asarray(img) < INK).mean())


def _working_copy(image: Image.Image) -> Image.Image:
    grey = to_grey(image)
    side = max(grey.size)
    if side > WORK_SIDE:
        factor = side / WORK_SIDE
        size = (max(1, round(grey.width / factor)), max(1, round(grey.height / factor)))
        plain = grey.resize(size, Image.Resampling.BOX)
        # MinFilter before shrinking keeps one-pixel lines (the sheet stays a line drawing) - but turns a
        # dithered grey area (bilevel GUI and shading sheets) solid black: then the plain shrink is kept
        k = int(factor) | 1
        if k >= 3:
            kept = grey.filter(ImageFilter.MinFilter(min(k, 5))).resize(size, Image.Resampling.BOX)
            if not _ink_share(kept) > max(0.25, 2 * _ink_share(plain)):
                return kept
        return plain
    return grey


def republish(image: Image.Image, rng: np.random.Generator, strength: float = 1.0) -> Image.Image:
    """A re-published copy of ``image`` (mode "L"); ``strength`` scales how many changes are applied."""
    def maybe(p: float) -> bool:
        return bool(rng.random() < min(1.0, p * strength))

    img = _working_copy(image)
    if maybe(0.25):                                   # a sideways sheet turned
        img = img.rotate(90 if rng.random() < 0.5 else 270, expand=True, fillcolor=255)
    if maybe(0.5):                                    # re-drawn strokes: thicker or thinner
        thinner = img.filter(ImageFilter.MaxFilter(3))
        # thinning that erases most of the drawing (one-pixel lines) is no re-drawing: thicker instead
        if rng.random() < 0.6 or _ink_share(thinner) < 0.4 * _ink_share(img):
            img = img.filter(ImageFilter.MinFilter(3))
        else:
            img = thinner
    if maybe(0.6):                                    # the figure label changed or moved
        draw = ImageDraw.Draw(img)
        w, h = img.size
        size = max(10, int(min(w, h) * rng.uniform(0.03, 0.06)))
        x, y = int(rng.uniform(0.05, 0.8) * w), int(rng.uniform(0.05, 0.9) * h)
        if rng.random() < 0.5:                        # an old label blanked out
            draw.rectangle((x, y, x + 4 * size, y + size), fill=255)
            x, y = int(rng.uniform(0.05, 0.8) * w), int(rng.uniform(0.05, 0.9) * h)
        number = int(rng.integers(1, 30))   # drawn before the letter: the order of the random stream
        letter = "ABC"[int(rng.integers(0, 3))] if rng.random() < .3 else ""
        draw.text((x, y), f"FIG. {number}{letter}", fill=0, font=_font(size))
    if maybe(0.7):                                    # printed at another scale, slightly skewed
        scale = float(np.exp(rng.uniform(np.log(0.5), np.log(2.0))))
        scale = min(scale, 2048 / max(img.size))
        if scale < 0.75:                              # printing keeps thin lines black at a smaller scale
            img = img.filter(ImageFilter.MinFilter(3))
        img = img.resize((max(8, round(img.width * scale)), max(8, round(img.height * scale))),
                         Image.Resampling.BILINEAR)
    if maybe(0.7):
        img = img.rotate(float(rng.uniform(-3, 3)), resample=Image.Resampling.BILINEAR, expand=True, fillcolor=255)
    if maybe(0.4):                                    # cropped margins (the paper, not the drawing)
        w, h = img.size
        box = img.point(lambda v: 255 if v < 200 else 0).getbbox() or (0, 0, w, h)
        left, top = int(rng.uniform(0, 1) * box[0]), int(rng.uniform(0, 1) * box[1])
        r, b = int(rng.uniform(0, 1) * (w - box[2])), int(rng.uniform(0, 1) * (h - box[3]))
        img = img.crop((left, top, w - r, h - b))
    if maybe(0.6):                                    # a new sheet: margin, header line, frame
        w, h = img.size
        pad = int(max(w, h) * rng.uniform(0.04, 0.15))
        top = pad + (int(max(w, h) * 0.06) if rng.random() < 0.7 else 0)
        sheet = Image.new("L", (w + 2 * pad, h + pad + top), 255)
        sheet.paste(img, (pad, top))
        draw = ImageDraw.Draw(sheet)
        if top > pad:
            draw.text((pad, int(pad * 0.4)), _header(rng), fill=0, font=_font(max(10, int(top - pad) // 2)))
        if rng.random() < 0.6:
            inset = int(pad * rng.uniform(0.2, 0.6))
            draw.rectangle((inset, inset, sheet.width - inset, sheet.height - inset), outline=0,
                           width=max(1, int(max(w, h) / 400)))
        img = sheet
    if maybe(0.5):                                    # scanned: speckle, then bilevel
        arr = np.asarray(img, dtype=np.uint8).copy()
        dots = rng.random(arr.shape) < rng.uniform(0.0005, 0.004)
        arr[dots] = 0
        img = Image.fromarray(arr, "L")
        if rng.random() < 0.7:
            # a scanner's threshold lies between ink and paper: below the sheet's paper grey (a light grey
            # screen or shading stays paper, not a black sheet)
            paper = float(np.percentile(arr, 90))
            threshold = int(min(rng.uniform(110, 200), paper - 20))
            img = img.point(lambda v, t=threshold: 0 if v < t else 255)
    if maybe(0.5):
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=int(rng.uniform(25, 85)))
        buf.seek(0)
        img = Image.open(buf).convert("L")
    return img
