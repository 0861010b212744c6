"""The first classification suggestion by words (GET /classifications/suggest?q=chair&scheme=cpc) of a process:
without the warm-up it reads the CPC titles and builds their word index (backend/classification/catalog.py);
a serving process builds it as it starts (backend/warmup.py), and the first suggestion only looks up.

    .venv/bin/python bench/suggest_bench.py
"""
from __future__ import annotations

import sys
import time

from backend.classification.catalog import cpc_catalog
from backend.classification.suggest import suggest
from backend.settings import get_settings


def main() -> int:
    directory = str(get_settings().cpc_titles_dir)
    catalog = cpc_catalog(directory)
    if not catalog.available:
        print(f"no CPC titles at {directory}", file=sys.stderr)
        return 1
    started = time.perf_counter()
    suggest("chair", "cpc", catalog)
    cold = time.perf_counter() - started
    cpc_catalog.cache_clear()
    catalog = cpc_catalog(directory)
    prepared = catalog.prepare()
    started = time.perf_counter()
    suggest("chair", "cpc", catalog)
    first = time.perf_counter() - started
    print("| first suggestion, nothing prepared | warm-up (in its own thread at start) | first suggestion after it |")
    print("|---|---|---|")
    print(f"| {cold:.1f} s | {prepared:.1f} s | {first * 1000:.0f} ms |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
