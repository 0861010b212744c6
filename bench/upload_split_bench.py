"""An uploaded sheet of several figures searched as its figures (views, fused per patent) or whole.

    .venv/bin/python bench/upload_split_bench.py [--data ../shared/data] [--every N]

The dev split and its two tasks as ``bench/drawing_retrieval.py --search-table`` builds them
(``backend/training/realdata.py``, ``backend/training/republish.py`` with the same seed, metrics of
``bench/patent_level.py``): *copies* (each dev drawing re-published is the upload; its patent is the
answer) and *same class* (each dev drawing is the upload; the other patents of its class are relevant).
The gallery holds the dev drawings as stored vectors of the search's encoder. Rows, in one run:

* ``thumbnail 24 px``  - the naive baseline;
* ``upload whole``     - the upload's one vector (``split_views: false``);
* ``upload split``     - uploads that :func:`backend.ingest.figure_regions.clear_views` finds to be several
  figures are searched as those figures (``vectors``), fused per patent as ``ranking/multi_view.py`` does
  (a patent scores the mean over the views of its best figure's cosine); the others as whole;
* ``upload split + whole`` - the same with the whole upload as one more view.

Class consensus and verification are off in every row (the same for all). Then the real multi-figure
sheets of ``uspto_grants_2025`` (FIGS. 3A/3B of US12448749, FIGS. 1-4 of US12448895), as scanned and
re-published, are uploaded against the dev gallery plus every grant sheet (whole, as stored without the
ingest split): the rank of their patent, whole vs split, and each figure of the sheet uploaded on its own.
"""
from __future__ import annotations

import argparse
import io
import sys
import time
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from backend.ingest.figure_regions import clear_views, crop, split_sheet  # noqa: E402
from backend.model import thumbnail  # noqa: E402
from backend.training import realdata  # noqa: E402
from backend.training.republish import republish  # noqa: E402

SEED = 20261129                      # bench/drawing_retrieval.py's re-publishing seed
REAL_SHEETS = (("US12448749", 4, "FIGS. 3A and 3B", 2), ("US12448895", 1, "FIGS. 1 to 4", 4))


def fused_patent_sim(view_sims: list[np.ndarray], patents: np.ndarray) -> np.ndarray:
    """A figure-level matrix whose per-patent max is the multi-view fusion: each figure gets its patent's
    mean over the views of the best figure's cosine (``view_sims``: one ``(queries, figures)`` matrix per
    view, a query's rows equal in every view when it has fewer views)."""
    names, index = np.unique(patents, return_inverse=True)
    best = np.zeros((view_sims[0].shape[0], len(names)))
    for sim in view_sims:
        per = np.full_like(best, -np.inf)
        for j in range(len(names)):
            per[:, j] = sim[:, index == j].max(axis=1)
        best += per
    return (best / len(view_sims))[:, index]


def split_sims(images, gallery: np.ndarray, patents: np.ndarray, encode, with_whole: bool,
               whole: np.ndarray) -> tuple[np.ndarray, int]:
    """The upload-split similarity of every query image (see the module docstring) and how many split."""
    out = whole @ gallery.T
    n_split = 0
    for i, im in enumerate(images):
        boxes = clear_views(im)
        if len(boxes) < 2:
            continue
        n_split += 1
        views = list(encode([crop(im, b) for b in boxes]))
        if with_whole:
            views.append(whole[i])
        sims = [np.asarray(v)[None, :] @ gallery.T for v in views]
        out[i] = fused_patent_sim(sims, patents)[0]
    return out, n_split


def _sheet(number: str, sheet: int, data: Path):
    from PIL import Image

    path = data / "uspto_grants_2025" / f"{number}-20251021.ZIP"
    with zipfile.ZipFile(path) as zf:
        names = sorted(n for n in zf.namelist() if "-D0" in n and n.endswith(".TIF"))
        images = {}
        for name in names:
            with Image.open(io.BytesIO(zf.read(name))) as im:
                im.load()
                images[int(name[-9:-4])] = im.convert("L")
    return images[sheet], images


def main(argv=None) -> int:
    from patent_level import SETS, copies, same_class

    from backend.model.encoder import get_encoder
    from backend.settings import Settings

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=realdata.default_root())
    ap.add_argument("--every", type=int, default=1, help="every Nth dev drawing (bounded time)")
    args = ap.parse_args(argv)
    if not args.data.is_dir():
        print(f"shared data not found at {args.data}", file=sys.stderr)
        return 2
    t0 = time.time()
    dev = realdata.split(realdata.load_sets(args.data), "dev")[::args.every]
    originals = [r.load_image() for r in dev]
    rng = np.random.default_rng(SEED)
    published = [republish(im, rng) for im in originals]
    patents = np.array([r.patent for r in dev])
    labels = np.array([r.label for r in dev])
    sources = np.array([realdata.source_of(r) for r in dev])
    enc = get_encoder(Settings())
    print(f"dev split: {len(dev)} drawings of {len(set(patents))} patents; encoder {enc.model_id}", flush=True)
    gallery, queries = enc.encode_images(originals), enc.encode_images(published)
    print(f"  encoded in {time.time() - t0:.0f} s", flush=True)

    def row(name, copy_sim, own_sim, split=None):
        out = {"name": name, "copies": copies(copy_sim, patents, patents), "split": split}
        for source, _what in SETS:
            out[source] = same_class(own_sim, patents, labels, patents, labels, np.flatnonzero(sources == source))
        return out

    th_g, th_q = thumbnail.thumbnail_vectors(originals, 24), thumbnail.thumbnail_vectors(published, 24)
    rows = [row("thumbnail 24 px", th_q @ th_g.T, th_g @ th_g.T),
            row("upload whole (split_views: false)", queries @ gallery.T, gallery @ gallery.T)]
    for with_whole in (False, True):
        c_sim, c_n = split_sims(published, gallery, patents, enc.encode_images, with_whole, queries)
        o_sim, o_n = split_sims(originals, gallery, patents, enc.encode_images, with_whole, gallery)
        rows.append(row("upload split" + (" + whole" if with_whole else ""), c_sim, o_sim, (c_n, o_n)))
    print(f"  rows in {time.time() - t0:.0f} s", flush=True)
    print(render(rows, len(dev), len(set(patents))))
    real_sheets(args.data, enc, originals, patents)
    print(f"done in {time.time() - t0:.0f} s")
    return 0


def render(rows, n_drawings: int, n_patents: int) -> str:
    from patent_level import SETS

    def f(x):
        return "–" if x is None else f"{x:.3f}"

    head = ["upload", "split (copies / same class)", "copies mAP / Hit@1"] + \
        [f"{what}: mAP / P@10 / Hit@10" for _s, what in SETS]
    lines = [f"Dev split: {n_drawings} drawings of {n_patents} held-out patents, patent level, consensus and "
             "verification off.", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["name"], "–" if r["split"] is None else f"{r['split'][0]} / {r['split'][1]}",
                 f"{f(r['copies']['mAP'])} / {f(r['copies']['Hit@1'])}"]
        cells += [f"{f(r[s]['mAP'])} / {f(r[s]['P@10'])} / {f(r[s]['Hit@10'])}" for s, _ in SETS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def real_sheets(data: Path, enc, originals, patents) -> None:
    """The real multi-figure sheets, re-published, against the dev gallery plus every grant sheet."""
    path = data / "uspto_grants_2025"
    if not path.is_dir():
        print("uspto_grants_2025 not in the shared data: real sheets skipped")
        return
    extra, extra_pats = [], []
    for zpath in sorted(path.glob("*.ZIP")):
        _first, sheets = _sheet(zpath.name.split("-")[0], 1, data)
        extra += list(sheets.values())
        extra_pats += [zpath.name.split("-")[0]] * len(sheets)
    gallery = np.vstack([enc.encode_images(originals), enc.encode_images(extra)])
    pats = np.concatenate([patents, np.array(extra_pats)])
    rng = np.random.default_rng(SEED)

    def rank(sim_row: np.ndarray, number: str) -> int:
        best: dict[str, float] = {}
        for p, s in zip(pats, sim_row):
            best[p] = max(best.get(p, -np.inf), float(s))
        order = sorted(best, key=lambda p: -best[p])
        return order.index(number) + 1

    print("\nReal multi-figure sheets (re-published; gallery: dev drawings + every grant sheet, whole): "
          "rank of the sheet's patent")
    for number, sheet_no, what, n_figures in REAL_SHEETS:
        sheet, _all = _sheet(number, sheet_no, data)
        for name, query in (("as scanned", sheet), ("re-published", republish(sheet, rng))):
            boxes = clear_views(query)
            whole = enc.encode_images([query])[0]
            r_whole = rank(gallery @ whole, number)
            r_split = r_whole
            if len(boxes) >= 2:
                views = enc.encode_images([crop(query, b) for b in boxes])
                r_split = rank(fused_patent_sim([v[None, :] @ gallery.T for v in views] + [whole[None, :] @ gallery.T],
                                                pats)[0], number)
            print(f"  {number} sheet {sheet_no} ({what}) {name}: {len(boxes)} clear views; whole: rank {r_whole}, "
                  f"split + whole: rank {r_split}")
        # each figure of the sheet uploaded on its own (cut where the labels say: ingest's split)
        figures = [crop(sheet, b) for b in split_sheet(sheet, n_figures)]
        each = [rank(gallery @ v, number) for v in enc.encode_images(figures)]
        print(f"  {number} sheet {sheet_no}: each of its {len(figures)} figures uploaded alone: ranks {each}")


if __name__ == "__main__":
    raise SystemExit(main())
