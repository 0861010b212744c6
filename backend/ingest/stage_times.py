"""Where ingest spends its time: seconds per pipeline stage, summed over the threads that ran it.

The pipeline times each stage (decode, verification features, blobs = the image files written, captions,
drawing encoder, caption vectors, dense text, store = the database rows, index) into one
:class:`StageTimes` per pipeline; ``bench/ingest_bench.py`` reads it.
Stages that run side by side (the image threads next to the encoder) each count their own wall time, so
the sum can exceed the elapsed time: that is the overlap. Each stage also counts the CPU time of the thread
that ran it (``time.thread_time``): the work itself, whatever else shares the cores (torch's intra-op
threads are not counted: the pipeline gives torch one thread beside the image threads).
"""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager

#: the stages in pipeline order (what the bench prints)
STAGES = ("parse", "decode", "verification features", "blobs", "captions", "drawing encoder", "caption vectors",
          "dense text", "store", "index")
#: the stages that run in the pipeline's image threads (several at once: pipeline.IMAGE_THREADS)
IMAGE_THREAD_STAGES = ("decode", "verification features", "blobs")


class StageTimes:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seconds: dict[str, float] = {}
        self._cpu: dict[str, float] = {}
        self._counts: dict[str, int] = {}

    @contextmanager
    def stage(self, name: str, items: int = 1):
        start, cpu = time.perf_counter(), time.thread_time()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - start, items, time.thread_time() - cpu)

    def add(self, name: str, seconds: float, items: int = 1, cpu_seconds: float = 0.0) -> None:
        with self._lock:
            self._seconds[name] = self._seconds.get(name, 0.0) + seconds
            self._cpu[name] = self._cpu.get(name, 0.0) + cpu_seconds
            self._counts[name] = self._counts.get(name, 0) + items

    def snapshot(self) -> dict[str, dict[str, float]]:
        """``{stage: {"seconds": wall s, "cpu_seconds": thread CPU s, "items": n}}`` in pipeline order
        (stages never run are left out)."""
        with self._lock:
            names = [s for s in STAGES if s in self._seconds] + sorted(set(self._seconds) - set(STAGES))
            return {n: {"seconds": round(self._seconds[n], 4), "cpu_seconds": round(self._cpu[n], 4),
                        "items": self._counts[n]} for n in names}

    def reset(self) -> None:
        with self._lock:
            self._seconds.clear()
            self._cpu.clear()
            self._counts.clear()
