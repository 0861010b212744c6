"""Figures, not sheets: a drawing sheet holding several figures becomes one indexed figure per region.

At ingest each rendered sheet whose labels name two or more figures ("FIGS. 3A and 3B") is split
(:func:`backend.ingest.figure_regions.split_sheet`, told how many figures it holds); a sheet whose labels
are unknown or name one figure stays whole. A sheet with two or more regions is
replaced by one figure per region: the region is rendered on its own (its own display, thumbnail, model
input, vector and verification features, so search, verification and ``prism index reembed`` treat it as
any figure), and it keeps the sheet for display (``sheet_key``: the sheet's display image) with its box on
it (``box``: left, top, right, bottom as shares of that image). Its figure id is ``<number>-F<sheet>.<r>``.
When as many labels as regions are known ("FIGS. 3A and 3B", two regions), region r is labelled with
the r-th label in reading order; otherwise every region keeps the sheet's label and description.

An index made before this split (or with it off) holds whole sheets: ``prism index reembed`` splits them
by the same rule (:func:`described_keys` reads the figures a stored sheet holds from its description,
which ingest wrote from the figures mapped onto the sheet; :func:`render_region` renders a region as
ingest does).
"""
from __future__ import annotations

import dataclasses
import io
from collections.abc import Callable

from PIL import Image

from backend.ingest.figure_regions import Box, split_sheet

#: a region smaller than this share of the sheet's display image (either side) is not split off
MIN_SIDE_SHARE = 0.08


def described_keys(description: str) -> list[str]:
    """The figure keys (``"3A"``) a stored sheet's description names as its figures, in order: the keys ingest
    mapped onto the sheet (its description is theirs, :func:`backend.ingest.sheet_figures.sheet_description`);
    a figure mentioned inside a sentence ("... a detail of FIG. 2") is not one of them."""
    from backend.ingest.sheet_figures import described_figures

    return [d.key for d in described_figures([description or ""])]


def render_region(settings, blobs, png: bytes, name: str, model_size: int):
    """One figure region rendered and stored like an ingested figure (display, thumbnail and, when search
    verifies, its verification features): ``(rendered, image_key, thumb_key)``."""
    from backend.ingest import blobstore, images

    r = images.render(png, name, settings.max_image_pixels, model_size)
    blobs.put(blobstore.figure_key(r.sha256), r.display_png, "image/png")
    blobs.put(blobstore.thumb_key(r.sha256), r.thumb_png, "image/png")
    if settings.search_verify_top_k > 0:
        from backend.search.ranking.verification import extract_bytes

        blobs.put(blobstore.features_key(r.sha256), extract_bytes(r.display_png).to_bytes())
    return r, blobstore.figure_key(r.sha256), blobstore.thumb_key(r.sha256)


def regions(display_png: bytes, expected: int | None = None) -> tuple[list[Box], tuple[int, int]]:
    """The figure regions of a sheet's display image and that image's size."""
    with Image.open(io.BytesIO(display_png)) as im:
        im.load()
        boxes = split_sheet(im, expected)
        size = im.size
    width, height = size
    boxes = [b for b in boxes if b.width >= MIN_SIDE_SHARE * width and b.height >= MIN_SIDE_SHARE * height]
    return boxes, size


def region_png(display_png: bytes, box: Box) -> bytes:
    with Image.open(io.BytesIO(display_png)) as im:
        out = io.BytesIO()
        im.crop((box.left, box.top, box.right, box.bottom)).save(out, "PNG")
    return out.getvalue()


def split_figures(figures: list, render: Callable[[bytes, str], tuple]) -> list:
    """``figures`` (the pipeline's prepared figures, rendered) with every multi-figure sheet replaced by its
    regions. ``render(png, name)`` renders and stores one region image and returns ``(rendered, image_key,
    thumb_key)``."""
    out = []
    for fig in figures:
        rendered = getattr(fig, "rendered", None)
        if rendered is None or fig.record.region:
            out.append(fig)
            continue
        keys = list(fig.record.keys or [])
        if len(keys) < 2:
            # only a sheet whose labels say it holds several figures is split: a sheet of unknown or single
            # content stays whole (dashed or broken line art falls apart into pieces that are not figures)
            out.append(fig)
            continue
        boxes, (width, height) = regions(rendered.display_png, len(keys))
        if len(boxes) < 2:
            out.append(fig)
            continue
        labelled = len(keys) == len(boxes)
        for r, box in enumerate(boxes, start=1):
            name = f"{fig.record.label or 'sheet'} region {r}"
            region_rendered, image_key, thumb_key = render(region_png(rendered.display_png, box), name)
            record = dataclasses.replace(
                fig.record, region=r, box=box.normalised(width, height),
                keys=[keys[r - 1]] if labelled else keys,
                label=f"FIG. {keys[r - 1]}" if labelled else fig.record.label)
            out.append(dataclasses.replace(fig, record=record, rendered=region_rendered, image_key=image_key,
                                           thumb_key=thumb_key, sheet_key=fig.image_key,
                                           captions=list(fig.captions)))
    return out
