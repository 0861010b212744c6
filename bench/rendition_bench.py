"""Figure renditions for the viewer (not a test): time to render each size from the original TIFF sheets
of the IMPACT sample (decode + crop to the ink + resize + PNG, what GET /figures/<id>/rendition does on
a cache miss), and the PNG sizes.

    .venv/bin/python bench/rendition_bench.py [--limit 60]

Prints one JSON line per size: sheets, wall-clock p50/p95/max ms, median process CPU ms (the wall clock
includes waiting for a shared CPU), mean kB, mean longer side in px.
"""
from __future__ import annotations

import argparse
import io
import json
import statistics
import time
from pathlib import Path

from PIL import Image

from backend.ingest.images import decode
from backend.search.renditions import SIZES, render_png
from backend.settings import SHARED_DATA


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=60, help="sheets to render (the first N TIFFs)")
    args = parser.parse_args()
    sheets = sorted((SHARED_DATA / "impact").glob("*/*.TIF"))[: args.limit]
    if not sheets:
        raise SystemExit(f"no TIFF sheets under {SHARED_DATA / 'impact'}")
    data = [Path(p).read_bytes() for p in sheets]
    render_png(decode(data[0], "warm-up", 60_000_000), 400)   # imports and first-call costs
    for name, side in SIZES.items():
        times, cpu, kbytes, sides = [], [], [], []
        for blob in data:
            start, start_cpu = time.perf_counter(), time.process_time()
            png = render_png(decode(blob, "sheet", 60_000_000), side)
            times.append((time.perf_counter() - start) * 1000)
            cpu.append((time.process_time() - start_cpu) * 1000)
            kbytes.append(len(png) / 1024)
            with Image.open(io.BytesIO(png)) as im:
                sides.append(max(im.size))
        times.sort()
        print(json.dumps({"w": name, "sheets": len(data), "p50_ms": round(statistics.median(times)),
                          "p95_ms": round(times[int(0.95 * (len(times) - 1))]), "max_ms": round(times[-1]),
                          "cpu_p50_ms": round(statistics.median(cpu)),
                          "mean_kb": round(statistics.mean(kbytes)), "mean_px": round(statistics.mean(sides))}))


if __name__ == "__main__":
    main()
