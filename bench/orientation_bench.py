"""Sideways sheets: backend/ingest/orientation.py on every drawing sheet of the 2025 US grants in the shared
data (uspto_grants_2025: 9 ZIPs, 50 sheets). SIDEWAYS lists the sheets printed turned (their FIG. labels read
upwards: checked by eye), so the table says how many of them are turned upright, how many upright sheets are
turned by mistake, and the seconds a sheet takes (what the first rendition of a drawing pays, once).

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
    found_turned, wrongly_turned, upright, seconds = 0, 0, 0, []
    for path in sorted(folder.glob("*.ZIP")):
        with zipfile.ZipFile(path) as zf:
            for name in sorted(n for n in zf.namelist() if "-D0" in n and n.upper().endswith(".TIF")):
                sheet = name.rsplit("/", 1)[-1].split("-")[0] + "-" + name.rsplit("-", 1)[-1][:6]
                im = Image.open(io.BytesIO(zf.read(name)))
                started = time.perf_counter()
                rotation = orientation.detect(im).rotation
                seconds.append(time.perf_counter() - started)
                if sheet in SIDEWAYS:
                    found_turned += rotation == 90
                else:
                    upright += 1
                    wrongly_turned += rotation != 0
    print("| sheets | sideways turned upright | upright sheets turned by mistake | s/sheet median | s/sheet max |")
    print("|---|---|---|---|---|")
    print(f"| {len(seconds)} | {found_turned} of {len(SIDEWAYS)} | {wrongly_turned} of {upright} | "
          f"{statistics.median(seconds):.1f} | {max(seconds):.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
