"""Scale benchmark (not CI): Elasticsearch at 1,000,000 figures, single node and 3-node cluster; the
embedded backend at 100k and 300k; the same hybrid queries everywhere.

Synthetic patents recombined from the real data (``bench/scale_corpus.py``, deterministic seed),
vectors of the default encoder's dimension, the real figure mapping (int8 HNSW). Phases, each
merging its numbers into ``bench/results/scale.json``:

    # Elasticsearch: bulk index (progress on stderr), then queries, recall, heap and disk
    nice -n 19 .venv/bin/python bench/scale_bench.py es-index --target single --n 1000000
    nice -n 19 .venv/bin/python bench/scale_bench.py es-query --target single
    # the 3-node cluster (`prism services up --es-nodes 3`): 3 shards, 1 replica
    nice -n 19 .venv/bin/python bench/scale_bench.py es-index --target cluster --n 1000000
    nice -n 19 .venv/bin/python bench/scale_bench.py es-query --target cluster
    # embedded backend, indexed into a temporary data dir
    nice -n 19 .venv/bin/python bench/scale_bench.py embedded --n 100000 300000
    .venv/bin/python bench/scale_bench.py report        # scale.md + scale.png from scale.json
    .venv/bin/python bench/scale_bench.py es-drop --target single   # delete the big index

Latency is wall-clock of the whole search pipeline (``backend.search``: retrieval, RRF fusion,
grouping, hydration) in 1, 4 or 8 client processes each running the query list. Recall@10 compares
the vector-only, ungrouped top 10 with exact search (``script_score`` cosine brute force in
Elasticsearch on a sample of queries; NumPy for the embedded backend).
"""
from __future__ import annotations

import argparse
import datetime as dt
import gc
import itertools
import json
import multiprocessing as mp
import os
import platform
import shutil
import statistics
import sys
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from scale_corpus import Corpus  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "scale.json"
PREFIX = os.environ.get("PRISM_SCALE_PREFIX", "scalebench")
TARGETS = {
    "single": {"urls": os.environ.get("PRISM_SCALE_ES_URL", "http://127.0.0.1:9200"), "shards": 1, "replicas": 0,
               "prefix": PREFIX},
    "cluster": {"urls": "http://127.0.0.1:9211,http://127.0.0.1:9212,http://127.0.0.1:9213", "shards": 3,
                "replicas": 1, "prefix": PREFIX},
}
CLIENTS = tuple(int(c) for c in os.environ.get("PRISM_SCALE_CLIENTS", "1,4,8").split(","))
DATE_FILTER = {"filing": {"gte": "2005-01-01", "lte": "2020-12-31"}}
BULK_CHUNK = 1000
#: the index-side pipeline only: no MiniLM query encoding (the synthetic figures carry no dense text
#: vectors; its cost does not depend on the index size) and no geometric verification (no query drawing)
QUERY_SETTINGS = {"search_dense_text": False, "search_verify_top_k": 0}
#: recall@10 is the retrieval's: the vector list by cosine, without the class/patent consensus re-ordering
RECALL_SETTINGS = {"search_class_consensus_k": 0}


def log(msg: str) -> None:
    print(f"[{dt.datetime.now().strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def load_results() -> dict:
    return json.loads(RESULTS.read_text()) if RESULTS.is_file() else {"runs": {}}


def save(key: str, part: dict) -> None:
    data = load_results()
    data.setdefault("runs", {}).setdefault(key, {}).update(part)
    data["machine"] = (f"{os.cpu_count()} CPU cores ({platform.machine()}), "
                       f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB, "
                       f"Python {platform.python_version()}; CPU shared with other jobs while measuring")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(data, indent=2) + "\n")


def dims() -> int:
    from backend.search.index.index_admin import default_dims
    from backend.settings import Settings

    return default_dims(Settings())


def es_settings(target: str, **extra):
    from backend.settings import Settings

    t = TARGETS[target]
    return Settings(search_backend="elasticsearch", es_index_prefix=t["prefix"], es_url=t["urls"],
                    **{**QUERY_SETTINGS, **extra})


def es_client(target: str):
    from backend.search.index import index_admin

    return index_admin.make_client(es_settings(target)).options(request_timeout=3600)


def node_stats(es) -> dict:
    nodes = es.nodes.stats(metric="jvm,fs").body["nodes"].values()
    return {"nodes": len(nodes), "heap_used_mb": round(sum(n["jvm"]["mem"]["heap_used_in_bytes"] for n in nodes) / 2**20),
            "heap_max_mb": round(sum(n["jvm"]["mem"]["heap_max_in_bytes"] for n in nodes) / 2**20)}


def index_stats(es, alias: str) -> dict:
    s = es.indices.stats(index=alias, metric="docs,store,segments").body["_all"]
    return {"docs": s["primaries"]["docs"]["count"], "store_primaries_mb": round(s["primaries"]["store"]["size_in_bytes"] / 2**20),
            "store_total_mb": round(s["total"]["store"]["size_in_bytes"] / 2**20),
            "segments": s["primaries"]["segments"]["count"]}


# -- the corpus as prepared documents, generated once per (seed, dims) ------------------------------------
CACHE = ROOT / "var" / "scale"


def _chunks(it, size: int):
    chunk = []
    for x in it:
        chunk.append(x)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def prepared_figures(corpus: Corpus, d: int, n: int):
    """(figure id, stored document) for the first ``n`` figures. The contract's preparation
    (documents.prepare: derived classification fields, normalised codes ...) runs once per patent; its
    other figures differ in the figure fields only (checked against a full prepare on the first 200
    patents). The vector, a finite unit vector of the index dims by construction, is added after it,
    rounded to 5 decimals (a smaller request)."""
    from backend.search.index import documents

    patents = int(n / corpus.fpp * 1.25) + 10
    count = 0
    for i in range(patents):
        _p, figs, vecs = corpus._patent(i, "s")
        first = None
        for doc, vec in zip(figs, vecs):
            if count >= n:
                return
            doc = {**doc, "ingest_seq": count}
            if first is None or i < 200:
                prepared = documents.prepare(doc, d)
            if first is None:
                first = prepared
            fast = {**first, "figure_id": doc["figure_id"], "figure_number": doc["figure_number"],
                    "viewpoint": doc["viewpoint"], "description": doc["description"],
                    "captions": list(doc["captions"]), "ingest_seq": count}
            if i < 200:
                assert fast == prepared, f"figure {doc['figure_id']}: the per-patent preparation differs"
            count += 1
            yield doc["figure_id"], {k: v for k, v in fast.items() if v is not None}, vec


def vector_json(vec: np.ndarray) -> str:
    """A unit vector as a JSON array of 5-decimal numbers written as integers with an exponent
    (``12345e-5``): formatting ints is several times faster than ``json.dumps`` of floats."""
    return "[" + "e-5,".join(map(str, np.rint(vec * 1e5).astype(np.int32).tolist())) + "e-5]"


def figure_line(fid: str, src: dict, vec: np.ndarray) -> str:
    body = json.dumps(src, ensure_ascii=False, separators=(",", ":"))
    return f'{fid}\t{body[:-1]},"image_vector":{vector_json(vec)}}}\n'


def corpus_lines(d: int, seed: int, n: int):
    """``figure_id<TAB>json`` lines of the first ``n`` figures, from ``var/scale`` when generated before
    (the cluster run and the exact search reuse the single node's corpus), else generated and kept there;
    a kept corpus shorter than ``n`` is extended (one run at a time: ``.lock`` beside it)."""
    path = CACHE / f"corpus-s{seed}-d{d}.tsv"
    if not path.is_file():
        CACHE.mkdir(parents=True, exist_ok=True)
        path.touch()
    lock = path.with_suffix(".lock")
    try:
        lock_fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        lock_fd = None
    try:
        if lock_fd is not None:
            _drop_torn_line(path)
        with path.open() as fh:
            have = sum(1 for line in fh if line.endswith("\n"))
        log(f"corpus: reading {min(n, have):,} of {have:,} prepared figures from {path}")
        with path.open() as fh:
            for count, line in enumerate(fh):
                if count >= n or not line.endswith("\n"):
                    break
                yield line
        if have >= n:
            return
        rest = itertools.islice(prepared_figures(Corpus(d, seed), d, n), have, None)
        if lock_fd is None:   # another run is extending it: generate without keeping
            log(f"corpus: {lock} is held by another run; generating figures {have:,}.. without keeping")
            for fid, src, vec in rest:
                yield figure_line(fid, src, vec)
            return
        log(f"corpus: generating figures {have:,}..{n - 1:,} and appending them to {path}")
        with path.open("a") as out:
            for fid, src, vec in rest:
                line = figure_line(fid, src, vec)
                out.write(line)
                yield line
    finally:   # also when the reader stops early (a time budget): the file holds whole lines only
        if lock_fd is not None:
            os.close(lock_fd)
            lock.unlink()


def _drop_torn_line(path: Path) -> None:
    """Cut a last line that a killed run left half written."""
    with path.open("rb+") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        if not size:
            return
        fh.seek(max(0, size - 65536))
        tail = fh.read()
        if tail.endswith(b"\n"):
            return
        cut = tail.rfind(b"\n")
        fh.truncate(size - len(tail) + cut + 1 if cut >= 0 else 0)


# -- Elasticsearch: index -----------------------------------------------------------------------------
def es_index(target: str, n: int, seed: int, grow: bool = False, max_minutes: float | None = None,
             merge: bool = True) -> None:
    from tqdm import tqdm

    from backend.search.index import index_admin

    t = TARGETS[target]
    es = es_client(target)
    d = dims()
    prefix, alias = t["prefix"], index_admin.alias_name(t["prefix"])
    bulk_settings = {"refresh_interval": "-1", "translog.durability": "async", "number_of_replicas": 0}
    start = 0
    if grow:   # add figures start..n-1 to the index of a smaller run (the same stream)
        (name,) = index_admin.concrete_indices(es, alias)
        es.indices.refresh(index=name)
        start = int(es.count(index=name)["count"])
        es.indices.put_settings(index=name, settings={"index": bulk_settings})
    else:
        index_admin.delete_all(es, prefix)
        body = index_admin.definition_for(es, d)
        body["settings"].update({"number_of_shards": t["shards"], **bulk_settings})
        body["settings"].pop("auto_expand_replicas", None)
        name = index_admin.new_index_name(prefix)
        es.indices.create(index=name, settings=body["settings"], mappings=body["mappings"],
                          aliases={alias: {"is_write_index": True}})
    heap_before = node_stats(es)
    source = corpus_lines(d, seed, n)
    lines = itertools.islice(source, start, None)
    n_new = n - start
    log(f"{target}: indexing figures {start:,}..{n - 1:,} of {d} dims into {name} ({t['shards']} shards)")
    t0 = time.perf_counter()
    done = failed = 0
    bar = tqdm(total=n_new, unit="fig", mininterval=20, file=sys.stderr, desc=f"{target} bulk")

    def send(chunk: list[str]) -> tuple[int, list]:
        body = "".join(f'{{"index":{{"_id":"{line.split(chr(9), 1)[0]}"}}}}\n{line.split(chr(9), 1)[1]}'
                       for line in chunk)
        resp = es.bulk(index=name, operations=body)
        errs = [i for i in resp["items"] if i["index"].get("error")] if resp["errors"] else []
        return len(chunk), errs

    stop_at = time.monotonic() + max_minutes * 60 if max_minutes else None
    with ThreadPoolExecutor(2) as pool:
        pending = deque()
        for chunk in _chunks(lines, BULK_CHUNK):
            if stop_at and time.monotonic() > stop_at:
                log(f"time budget of {max_minutes} min spent: stopping at {start + done + len(pending) * BULK_CHUNK:,}")
                break
            pending.append(pool.submit(send, chunk))
            while len(pending) >= 4 or (pending and pending[0].done()):
                count, errs = pending.popleft().result()
                done, failed = done + count, failed + len(errs)
                if errs and failed <= 3:
                    log(f"failed: {str(errs[0])[:300]}")
                bar.update(count)
        for fut in pending:
            count, errs = fut.result()
            done, failed = done + count, failed + len(errs)
            bar.update(count)
    bar.close()
    source.close()
    n = start + done
    bulk_s = time.perf_counter() - t0
    log(f"bulk done: {done:,} in {bulk_s:.0f} s ({done / bulk_s:.0f} fig/s), {failed} failed; refresh + merge")
    es.indices.put_settings(index=name, settings={"index": {"refresh_interval": "1s", "translog.durability": "request"}})
    es.indices.refresh(index=name)
    t1 = time.perf_counter()
    if merge:
        es.indices.forcemerge(index=name, max_num_segments=1)
    merge_s = time.perf_counter() - t1
    log(f"force-merged in {merge_s:.0f} s" if merge else "not force-merged")
    t2 = time.perf_counter()
    if t["replicas"]:
        es.indices.put_settings(index=name, settings={"index": {"number_of_replicas": t["replicas"]}})
        es.cluster.health(index=name, wait_for_status="green", timeout="3600s")
    replica_s = time.perf_counter() - t2
    stats = index_stats(es, alias)
    save(f"es_{target}_{n}", {
        "backend": "elasticsearch", "target": target, "n": n, "dims": d, "seed": seed, "shards": t["shards"],
        "replicas": t["replicas"], "index": {
            "grown_from": start, "bulk_s": round(bulk_s, 1), "figures_per_s": round(done / bulk_s), "failed": failed,
            "forcemerge_s": round(merge_s, 1) if merge else None, "replica_s": round(replica_s, 1), **stats,
            "disk_per_million_gb": round(stats["store_primaries_mb"] / 1024 / (n / 1e6), 2),
            "heap_before": heap_before, "heap_after": node_stats(es)}})
    log(f"saved: {stats}")


# -- queries ------------------------------------------------------------------------------------------
def _pcts(samples: list[float]) -> dict:
    s = sorted(samples)

    def pct(p):
        return round(s[min(len(s) - 1, int(round(p * (len(s) - 1))))] * 1000, 1)

    return {"p50_ms": pct(0.5), "p95_ms": pct(0.95), "p99_ms": pct(0.99), "mean_ms": round(statistics.fmean(s) * 1000, 1),
            "n": len(s)}


_BACKEND = None


def _init_worker(kind: str, arg: str) -> None:
    global _BACKEND
    if kind == "embedded" and _BACKEND is not None:
        # the parent's backend, snapshot loaded (shared copy-on-write, as gunicorn's preloaded workers would
        # share it); only its SQLite connections and threads are the parent's: new ones here
        _BACKEND._local = threading.local()
        _BACKEND._pool = None
        return
    _BACKEND = make_backend(kind, arg)
    gc.collect()
    gc.freeze()     # as the API worker does once the app is built (backend/wsgi.py)


def make_backend(kind: str, arg: str, **extra):
    if kind == "es":
        from backend.search.backends.elasticsearch.es_backend import ElasticsearchBackend

        return ElasticsearchBackend(es_settings(arg, **extra))
    from backend.search.backends.embedded.embedded_backend import EmbeddedBackend
    from backend.settings import Settings

    return EmbeddedBackend(Settings(data_dir=Path(arg), search_backend="embedded", **{**QUERY_SETTINGS, **extra}))


def request(q, filtered: bool) -> dict:
    filters = {"cpc": {"include": [q["subclass"]]}, "dates": DATE_FILTER} if filtered else {}
    return {"text": q["text"], "vector": q["vector"], "filters": filters, "size": 20}


def _client(job: tuple[list[dict], bool, int]) -> list[float]:
    qs, filtered, offset = job
    times = []
    for i in range(len(qs)):
        q = qs[(i + offset) % len(qs)]
        t0 = time.perf_counter()
        _BACKEND.search(request(q, filtered))
        times.append(time.perf_counter() - t0)
    return times


def latency(kind: str, arg: str, qs: list[dict]) -> dict:
    global _BACKEND
    out = {"loadavg_before": [round(x, 2) for x in os.getloadavg()]}
    if kind == "embedded":   # snapshot (filters, vectors, int8 copy) loaded once, before the clients fork
        t0 = time.perf_counter()
        _BACKEND = make_backend(kind, arg)
        _BACKEND.search(request(qs[0], False))
        out["snapshot_load_s"] = round(time.perf_counter() - t0, 1)
        if _BACKEND.prewarming is not None:   # common words' postings read ahead: finished before the fork
            t0 = time.perf_counter()
            _BACKEND.prewarming.join()
            out["prewarm_wait_s"] = round(time.perf_counter() - t0, 1)
        _BACKEND._local = threading.local()   # no parent connection crosses the fork
        _BACKEND._pool = None
    for filtered in (False, True):
        for clients in CLIENTS:
            # fork: the clients inherit the imported modules (a spawn re-imports them all, costly on a
            # loaded machine); each builds its own backend (connections) after the fork
            with mp.get_context("fork").Pool(clients, _init_worker, (kind, arg)) as pool:
                pool.map(_client, [(qs[:10], filtered, c) for c in range(clients)])  # warm-up
                t0 = time.perf_counter()
                parts = pool.map(_client, [(qs, filtered, c * 7) for c in range(clients)])
                wall = time.perf_counter() - t0
            times = [x for p in parts for x in p]
            key = f"{'filtered' if filtered else 'hybrid'}_c{clients}"
            out[key] = {**_pcts(times), "qps": round(len(times) / wall, 1)}
            log(f"{kind} {arg}: {key} {out[key]}")
    out["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    _BACKEND = None
    return out


def backend_top10(backend, q: dict, filtered: bool) -> list[str]:
    req = {"vector": q["vector"], "group_by_patent": False, "size": 10,
           "filters": {"cpc": {"include": [q["subclass"]]}, "dates": DATE_FILTER} if filtered else {}}
    return [h.figure_id for h in backend.search(req).hits]


def es_exact_top10(es, alias: str, q: dict, filtered: bool) -> list[str]:
    from backend.search.backends.elasticsearch.es_backend import es_filters
    from backend.search.pipeline.filters import build
    from backend.search.request import Filters

    base = {"match_all": {}}
    if filtered:
        base = {"bool": {"filter": es_filters(build(Filters.model_validate(
            {"cpc": {"include": [q["subclass"]]}, "dates": DATE_FILTER})))}}
    resp = es.search(index=alias, size=10, source=False, track_total_hits=False, query={"script_score": {
        "query": base, "script": {"source": "cosineSimilarity(params.q, 'image_vector') + 1.0",
                                  "params": {"q": q["vector"]}}}}, sort=[{"_score": "desc"}, {"figure_id": "asc"}])
    return [h["_id"] for h in resp["hits"]["hits"]]


def numpy_exact(d: int, seed: int, n: int):
    """Exact cosine top 10 over the first ``n`` figures of the corpus (vectors, CPC subclasses and filing
    dates read back from the kept corpus, or generated; kept in ``var/scale/exact-*`` for the next run), as
    :func:`es_exact_top10` is called."""
    keep = CACHE / f"exact-s{seed}-d{d}-n{n}"
    if (keep / "meta.json").is_file():
        mat = np.load(keep / "vectors.npy")
        ids, subs, filing = json.loads((keep / "meta.json").read_text())
        subs = [set(s) for s in subs]
    else:
        ids, subs, filing = [], [], []
        mat = np.zeros((n, d), dtype=np.float32)
        for i, line in enumerate(corpus_lines(d, seed, n)):
            fid, body = line.split("\t", 1)
            src = json.loads(body)
            ids.append(fid)
            subs.append(set(src.get("cpc_subclass") or []))
            filing.append(src.get("filing_date") or "")
            mat[i] = src["image_vector"]
        mat /= np.linalg.norm(mat, axis=1, keepdims=True)
        keep.mkdir(parents=True, exist_ok=True)
        np.save(keep / "vectors.npy", mat)
        (keep / "meta.json").write_text(json.dumps([ids, [sorted(s) for s in subs], filing]))
    ids_arr = np.array(ids)

    def top10(_es, _alias, q, filtered):
        sims = mat @ np.asarray(q["vector"], dtype=np.float32)
        if filtered:
            lo, hi = DATE_FILTER["filing"]["gte"], DATE_FILTER["filing"]["lte"]
            mask = np.array([q["subclass"] in s and lo <= f <= hi for s, f in zip(subs, filing)])
            sims = np.where(mask, sims, -np.inf)
        top = np.argsort(-sims, kind="stable")[:10]
        return [ids_arr[i] for i in top if np.isfinite(sims[i])]

    return top10


def _warm_up(target: str, qs: list[dict], n: int) -> None:
    backend = make_backend("es", target)
    for i in range(n):
        backend.search(request(qs[i % len(qs)], bool(i % 2)))


def es_query(target: str, n_queries: int, n_recall: int, seed: int, with_latency: bool = True,
             warmup: int = 0) -> None:
    from backend.search.index import index_admin

    es = es_client(target)
    alias = index_admin.alias_name(TARGETS[target]["prefix"])
    es.indices.refresh(index=alias)
    n = int(es.count(index=alias)["count"])
    d = dims()
    qs = [q.__dict__ for q in Corpus(d, seed).queries(n_queries)]
    if warmup:   # a node just started compiles its search code and reads the index into page cache first
        t0 = time.perf_counter()
        # in a child: the parent forks the latency clients later and must hold no threads (the backend's)
        warm = mp.get_context("fork").Process(target=_warm_up, args=(target, qs, warmup))
        warm.start()
        warm.join()
        log(f"{target}: warm-up {warmup} searches, {time.perf_counter() - t0:.0f} s")
    res = {"queries": n_queries, "latency": latency("es", target, qs)} if with_latency else {}
    save(f"es_{target}_{n}", res)
    if not n_recall:
        return
    backend = make_backend("es", target, **RECALL_SETTINGS)
    res["num_candidates"] = backend.settings.es_num_candidates
    exact = es_exact_top10
    try:
        es_exact_top10(es, alias, qs[0], False)
    except Exception as exc:  # noqa: BLE001 - a node without lang-painless (the dev distribution)
        log(f"script_score brute force unavailable ({str(exc)[:120]}); exact search in NumPy over the corpus")
        exact = numpy_exact(dims(), seed, n)
    for filtered in (False, True):
        hits = 0
        exact_s = []
        for q in qs[:n_recall]:
            t0 = time.perf_counter()
            want = set(exact(es, alias, q, filtered))
            exact_s.append(time.perf_counter() - t0)
            hits += len(want & set(backend_top10(backend, q, filtered))) / max(1, min(10, len(want)))
        key = "recall_at_10_filtered" if filtered else "recall_at_10"
        res[key] = round(hits / n_recall, 4)
        res[f"exact_{'filtered_' if filtered else ''}ms_p50"] = round(statistics.median(exact_s) * 1000)
        log(f"{target}: {key} {res[key]} (exact search p50 {statistics.median(exact_s) * 1000:.0f} ms)")
    res["recall_queries"] = n_recall
    res["heap_after_queries"] = node_stats(es)
    res["index_now"] = index_stats(es, alias)
    save(f"es_{target}_{n}", res)


def es_took(target: str, n_queries: int, seed: int) -> None:
    """Server-side time (``took``) of the retrieval ``_msearch`` (BM25 + kNN lists) of each hybrid query,
    one client: what Elasticsearch itself spends, apart from the pipeline around it and the client's
    scheduling on a loaded machine."""
    from backend.search.backends.elasticsearch.es_backend import RETRIEVAL_FILTER_PATH
    from backend.search.index import index_admin

    es = es_client(target)
    alias = index_admin.alias_name(TARGETS[target]["prefix"])
    n = int(es.count(index=alias)["count"])
    qs = [q.__dict__ for q in Corpus(dims(), seed).queries(n_queries)]
    backend = make_backend("es", target)
    orig = backend.es.msearch
    took: list[float] = []

    def recorded(**kwargs):
        resp = orig(**kwargs)
        # the retrieval's (the count's and the snippets' _msearch are others)
        if kwargs.get("filter_path") == RETRIEVAL_FILTER_PATH:
            took.append(max(r.get("took", 0) for r in resp["responses"]) / 1000)
        return resp

    backend.es.msearch = recorded
    res = {}
    for filtered in (False, True):
        for q in qs[:5]:
            backend.search(request(q, filtered))
        took.clear()
        for q in qs:
            backend.search(request(q, filtered))
        res[f"{'filtered' if filtered else 'hybrid'}_c1"] = _pcts(took)
        log(f"{target}: server took {list(res.items())[-1]}")
    save(f"es_{target}_{n}", {"server_took": res})


def es_drop(target: str) -> None:
    from backend.search.index import index_admin

    index_admin.delete_all(es_client(target), TARGETS[target]["prefix"])
    log(f"deleted the {TARGETS[target]['prefix']} indices on {target}")


# -- embedded -----------------------------------------------------------------------------------------
def embedded_index(n: int, seed: int) -> tuple[Path, dict]:
    """An embedded index of the first ``n`` figures in ``var/scale`` (built once, reused by later runs):
    (data dir, index numbers)."""
    from tqdm import tqdm

    from backend.search.index import documents

    d = dims()
    data_dir = CACHE / f"embedded-s{seed}-d{d}-n{n}" / "var"
    done = data_dir.parent / "index.json"
    if done.is_file():
        return data_dir, json.loads(done.read_text())
    if data_dir.exists():
        shutil.rmtree(data_dir)
    backend = make_backend("embedded", str(data_dir))
    lines = corpus_lines(d, seed, n)
    t0 = time.perf_counter()
    bar = tqdm(total=n, unit="fig", mininterval=20, file=sys.stderr, desc=f"embedded {n}")
    for chunk in _chunks(lines, 2000):
        batch = []
        for line in chunk:
            src = json.loads(line.split("\t", 1)[1])
            batch.append({k: v for k, v in src.items() if k in documents.CONTRACT_FIELDS})
        backend.index_figures(batch)
        bar.update(len(batch))
    bar.close()
    backend.refresh()
    backend.search({"text": "device"})  # loads the snapshot
    index_s = time.perf_counter() - t0
    info = {"index_s": round(index_s, 1), "figures_per_s": round(n / index_s),
            "disk_mb": round(sum(f.stat().st_size for f in data_dir.rglob("*") if f.is_file()) / 2**20)}
    done.write_text(json.dumps(info))
    log(f"embedded {n}: indexed in {index_s:.0f} s")
    return data_dir, info


def embedded(n: int, n_queries: int, n_recall: int, seed: int) -> None:
    d = dims()
    qs = [q.__dict__ for q in Corpus(d, seed).queries(n_queries)]
    data_dir, info = embedded_index(n, seed)
    res = {"backend": "embedded", "n": n, "dims": d, "seed": seed, "queries": n_queries, "index": info,
           "latency": latency("embedded", str(data_dir), qs)}
    backend = make_backend("embedded", str(data_dir), **RECALL_SETTINGS)
    snap = backend.snapshot()
    mat, ids = snap.vectors, np.array(snap.figure_ids)
    for filtered in (False, True):
        hits = 0
        for q in qs[:n_recall]:
            sims = mat @ np.asarray(q["vector"], dtype=np.float32)
            if filtered:
                from backend.search.pipeline.filters import build
                from backend.search.request import Filters

                mask = snap.mask(build(Filters.model_validate({"cpc": {"include": [q["subclass"]]},
                                                                "dates": DATE_FILTER})))
                sims = np.where(mask, sims, -np.inf)
            top = np.argsort(-sims, kind="stable")[:10]
            want = {ids[i] for i in top if np.isfinite(sims[i])}
            hits += len(want & set(backend_top10(backend, q, filtered))) / max(1, min(10, len(want)))
        res["recall_at_10_filtered" if filtered else "recall_at_10"] = round(hits / n_recall, 4)
    res["recall_queries"] = n_recall
    save(f"embedded_{n}", res)
    log(f"embedded {n}: saved")


# -- report -------------------------------------------------------------------------------------------
def report() -> None:
    data = load_results()
    runs = data["runs"]
    lines = [f"Machine: {data.get('machine', '?')}", "",
             "| run | figures | index fig/s | hybrid p50/p95/p99 ms (1 client) | filtered p50/p95/p99 ms (1 client) "
             "| p95 4 / 8 clients (hybrid) | p95 4 / 8 clients (filtered) | recall@10 | recall@10 filtered "
             "| disk GB / M figures | heap used MB (max) | ES took p50/p95 ms hybrid; filtered |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    order = sorted(runs, key=lambda k: (not k.startswith("embedded"), runs[k].get("n", 0), k))
    for key in order:
        r = runs[key]
        lat = r.get("latency") or {}
        if not lat:
            continue

        def trio(k):
            x = lat.get(k) or {}
            return f"{x.get('p50_ms', '-')} / {x.get('p95_ms', '-')} / {x.get('p99_ms', '-')}"

        def p95(k):
            return (lat.get(k) or {}).get("p95_ms", "-")

        idx = r.get("index", {})
        disk = idx.get("disk_per_million_gb")
        if disk is None and "disk_mb" in idx:
            disk = round(idx["disk_mb"] / 1024 / (r["n"] / 1e6), 2)
        heap = r.get("heap_after_queries")
        heap = heap or (r.get("index") or {}).get("heap_after")
        heap_text = f"{heap['heap_used_mb']} ({heap['heap_max_mb']})" if heap else "-"
        took = r.get("server_took") or {}
        took_text = "; ".join(f"{took[k]['p50_ms']:g} / {took[k]['p95_ms']:g}" for k in ("hybrid_c1", "filtered_c1")
                              if k in took) or "-"
        label = key.replace("es_", "Elasticsearch ").replace("embedded_", "embedded ")
        if r.get("target") == "cluster":
            label = f"Elasticsearch 3 nodes ({r['shards']} shards, {r['replicas']} replica)"
        elif r.get("target") == "single":
            label = "Elasticsearch 1 node"
        else:
            label = "embedded"
        lines.append(
            f"| {label} | {r['n']:,} | {idx.get('figures_per_s', '-')} | {trio('hybrid_c1')} | {trio('filtered_c1')} "
            f"| {p95('hybrid_c4')} / {p95('hybrid_c8')} | {p95('filtered_c4')} / {p95('filtered_c8')} "
            f"| {r.get('recall_at_10', '-')} | {r.get('recall_at_10_filtered', '-')} | {disk if disk is not None else '-'} "
            f"| {heap_text} | {took_text} |")
    md = "\n".join(lines) + "\n"
    RESULTS.with_suffix(".md").write_text(md)
    plot(runs, RESULTS.with_suffix(".png"), order)
    print(md)


def plot(runs: dict, path: Path, order: list[str]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, kind, title in ((axes[0], "hybrid", "hybrid (text + drawing)"), (axes[1], "filtered", "hybrid + CPC/date filter")):
        for key in order:
            r = runs[key]
            lat = r.get("latency") or {}
            if not lat:
                continue
            xs = [c for c in CLIENTS if f"{kind}_c{c}" in lat]
            label = (f"ES {r['target']} {r['n'] / 1e6:g}M" if r["backend"] == "elasticsearch"
                     else f"embedded {r['n'] // 1000}k")
            ax.plot(xs, [lat[f"{kind}_c{c}"]["p95_ms"] for c in xs], marker="o", label=label)
        ax.axhline(50, color="tab:red", ls="--", lw=1, label="ES p95 target (50 ms, 1 client)")
        ax.axhline(30, color="tab:green", ls="--", lw=1, label="embedded p95 target (30 ms, 1 client)")
        ax.set_xticks(list(CLIENTS))
        ax.set_xlabel("concurrent clients")
        ax.set_title(title)
        ax.set_yscale("log")
    axes[0].set_ylabel("p95 latency, ms (log)")
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("es-index")
    a.add_argument("--target", choices=TARGETS, required=True)
    a.add_argument("--n", type=int, default=1_000_000)
    a.add_argument("--grow", action="store_true", help="add to the index of a smaller earlier run")
    a.add_argument("--max-minutes", type=float, help="stop sending after this long (the index keeps what it got)")
    a.add_argument("--no-merge", action="store_true", help="skip the force-merge to one segment")
    b = sub.add_parser("es-query")
    b.add_argument("--target", choices=TARGETS, required=True)
    b.add_argument("--no-latency", action="store_true", help="recall only (--recall-queries 0: latency only)")
    b.add_argument("--warmup", type=int, default=0, help="searches run (and not timed) before the latency runs")
    c = sub.add_parser("embedded")
    c.add_argument("--n", type=int, nargs="+", default=[100_000, 300_000])
    f = sub.add_parser("es-took")
    f.add_argument("--target", choices=TARGETS, required=True)
    f.add_argument("--queries", type=int, default=100)
    f.add_argument("--seed", type=int, default=0)
    e = sub.add_parser("es-drop")
    e.add_argument("--target", choices=TARGETS, required=True)
    sub.add_parser("report")
    for s in (a, b, c):
        s.add_argument("--seed", type=int, default=0)
    for s in (b, c):
        s.add_argument("--queries", type=int, default=200)
        s.add_argument("--recall-queries", type=int, default=50)
    args = p.parse_args(argv)
    if args.cmd == "es-index":
        es_index(args.target, args.n, args.seed, args.grow, args.max_minutes, not args.no_merge)
    elif args.cmd == "es-query":
        es_query(args.target, args.queries, args.recall_queries, args.seed, not args.no_latency, args.warmup)
    elif args.cmd == "embedded":
        for n in args.n:
            embedded(n, args.queries, args.recall_queries, args.seed)
    elif args.cmd == "es-took":
        es_took(args.target, args.queries, args.seed)
    elif args.cmd == "es-drop":
        es_drop(args.target)
    else:
        report()


if __name__ == "__main__":
    main()
