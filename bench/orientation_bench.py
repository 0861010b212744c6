"""Sideways sheets: backend/ingest/orientation.py on every drawing sheet of the 2025 US grants in the shared
data (uspto_grants_2025: 9 ZIPs, 50 sheets). SIDEWAYS lists the sheets printed turned (their FIG. labels read
upwards: checked by eye), so the table says how many of them are turned upright, how many upright sheets are
turned by mistake, and the seconds a sheet takes (what the first rendition of a drawing pays, once) -
beside tesseract's orientation detection alone (``--psm 0``, its proposed turn at the same confidence floor),
the naive way, in the same run.

    .venv/bin/python bench/orientation_bench.py
"""
from __future__ import annotations

import io
import statistics
import sys
import time
import zipfile

from PIL import Image

from backend.ingest import orientation
from backend.settings import SHARED_DATA

SIDEWAYS = {f"US12448135-D{n:05d}" for n in (1, 2, 3, 4, 5)} | \
           {f"US12448254-D{n:05d}" for n in (2, 3, 4, 7, 8, 10, 11, 12)}


def main() -> int:
    folder = SHARED_DATA / "uspto_grants_2025"
    if not folder.is_dir():
        print(f"no {folder}: the shared data is not here", file=sys.stderr)
        return 1
    if not orientation.available():
        print(orientation.missing_reason(), file=sys.stderr)
        return 1
    rows = {"labels (orientation.detect)": [0, 0, []], "tesseract OSD alone": [0, 0, []]}
    upright = 0
    for path in sorted(folder.glob("*.ZIP")):
        with zipfile.ZipFile(path) as zf:
            for name in sorted(n for n in zf.namelist() if "-D0" in n and n.upper().endswith(".TIF")):
                sheet = name.rsplit("/", 1)[-1].split("-")[0] + "-" + name.rsplit("-", 1)[-1][:6]
                im = Image.open(io.BytesIO(zf.read(name)))
                upright += sheet not in SIDEWAYS
                for method, row in rows.items():
                    started = time.perf_counter()
                    rotation = orientation.detect(im).rotation if method.startswith("labels") else _osd_alone(im)
                    row[2].append(time.perf_counter() - started)
                    row[0] += sheet in SIDEWAYS and rotation == 90
                    row[1] += sheet not in SIDEWAYS and rotation != 0
    print("| method | sheets | sideways turned upright | upright sheets turned by mistake | s/sheet median | "
          "s/sheet max |")
    print("|---|---|---|---|---|---|")
    for method, (turned, wrong, seconds) in rows.items():
        print(f"| {method} | {len(seconds)} | {turned} of {len(SIDEWAYS)} | {wrong} of {upright} | "
              f"{statistics.median(seconds):.1f} | {max(seconds):.1f} |")
    return 0


def _osd_alone(im: Image.Image) -> int:
    """Tesseract's proposed turn, taken when at least as confident as the detector's own floor."""
    grey = im.convert("L")
    proposed = orientation.osd(grey.reduce(2) if max(grey.size) > 2000 else grey)
    return proposed[0] if proposed and proposed[1] >= orientation.OSD_MIN else 0


if __name__ == "__main__":
    sys.exit(main())
