"""Elasticsearch index management: versioned mappings, a concrete index behind an alias, reindex.

* The mapping of version N is ``es_mappings/figures/figures-vN.json``; :data:`MAPPING_VERSION` is the
  one this code expects. The concrete index is ``{prefix}-figures-v{N}-{timestamp}``; the app only
  talks to the alias ``{prefix}-figures``.
* :func:`reindex` builds a new index (refresh off), copies every document (scan + bulk), catches up
  with writes made meanwhile, swaps the alias atomically, then deletes the old index; on any failure
  before the swap it deletes the new index and leaves the alias where it was. An ES-side lock (an
  index created with create-if-absent semantics) keeps two reindexes apart.
* :func:`check_version` refuses an index whose ``_meta.mapping_version`` is not the expected one.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path

from elasticsearch import ApiError, Elasticsearch, NotFoundError
from elasticsearch.serializer import NdjsonSerializer, OrjsonSerializer

from backend.search.errors import IndexVersionError, ReindexInProgress, SearchBackendError
from backend.settings import REPO_ROOT, Settings

log = logging.getLogger(__name__)

MAPPING_VERSION = 3
CATCH_UP_PASSES = 5            # reindex: passes over writes made during the copy before the swap
MAPPINGS_DIR = REPO_ROOT / "es_mappings"
NAME = "figures"
FIX_COMMAND = "prism index reindex"
TRANSFORM_BATCH = 256          # documents per call of a reindex transform (re-embedding encodes them together)
#: a reindex transform: a batch of ``_source`` documents in, the documents to write (same order) out
Transform = Callable[[list[dict]], list[dict]]


def alias_name(prefix: str) -> str:
    return f"{prefix}-{NAME}"


def lock_name(prefix: str) -> str:
    return f"{prefix}-{NAME}-reindex-lock"


def mapping_path(version: int = MAPPING_VERSION) -> Path:
    return MAPPINGS_DIR / NAME / f"{NAME}-v{version}.json"


def load_definition(dims: int, version: int = MAPPING_VERSION) -> dict:
    """Index settings + mappings of ``version`` with the vector dimension filled in."""
    if not isinstance(dims, int) or not 1 <= dims <= 4096:
        raise ValueError(f"vector dims must be an integer in 1..4096, got {dims!r}")
    path = mapping_path(version)
    if not path.is_file():
        raise SearchBackendError(f"no mapping file for version {version}: {path}")
    text = path.read_text(encoding="utf-8").replace('"__DIMS__"', str(dims))
    return json.loads(text)


def default_dims(settings: Settings) -> int:
    """The encoder's embedding dimension (read from its config; the model is not loaded)."""
    try:
        from backend.model import registry

        return registry.vector_dims(settings.model_name)
    except Exception:  # noqa: BLE001 - fall back to loading the encoder itself
        from backend.model.encoder import get_encoder

        return int(get_encoder(settings).dim)


class OrjsonNdjsonSerializer(NdjsonSerializer, OrjsonSerializer):
    """``_msearch`` / ``_bulk`` bodies: NDJSON lines written by orjson (a query vector's floats ~5x faster)."""


def make_client(settings: Settings) -> Elasticsearch:
    # one or several nodes; JSON by orjson (a search's hundreds of hits: parsed in ~0.7 ms, json ~1.2 ms)
    return Elasticsearch(settings.es_hosts, request_timeout=settings.es_request_timeout,
                         serializers={"application/json": OrjsonSerializer(),
                                      "application/x-ndjson": OrjsonNdjsonSerializer()})


def concrete_indices(es: Elasticsearch, alias: str) -> list[str]:
    try:
        return sorted(es.indices.get_alias(name=alias).body)
    except NotFoundError:
        return []


def index_version(es: Elasticsearch, index: str) -> int | None:
    mapping = es.indices.get_mapping(index=index).body[index]["mappings"]
    value = (mapping.get("_meta") or {}).get("mapping_version")
    return int(value) if value is not None else None


def index_dims(es: Elasticsearch, index: str) -> int | None:
    props = es.indices.get_mapping(index=index).body[index]["mappings"].get("properties", {})
    return (props.get("image_vector") or {}).get("dims")


#: Analyzers made of Lucene core parts only, for clusters without the analysis-common module (the
#: integ-test distribution used in development): no stemming, no accent folding.
CORE_ANALYSIS = {
    "analyzer": {
        "prism_english": {"type": "custom", "tokenizer": "standard", "filter": ["lowercase", "stop"]},
        "prism_folding": {"type": "custom", "tokenizer": "standard", "filter": ["lowercase"]},
    },
    "normalizer": {"prism_lower": {"type": "custom", "filter": ["lowercase"]}},
}


def has_analysis_common(es: Elasticsearch) -> bool:
    nodes = es.nodes.info(metric="plugins").body.get("nodes", {})
    return bool(nodes) and all(any(m.get("name") == "analysis-common" for m in n.get("modules", []))
                               for n in nodes.values())


def definition_for(es: Elasticsearch, dims: int, version: int = MAPPING_VERSION) -> dict:
    """:func:`load_definition`, with core-only analyzers where the cluster lacks analysis-common."""
    body = load_definition(dims, version)
    if not has_analysis_common(es):
        log.warning("Elasticsearch has no analysis-common module: using core analyzers (no stemming, "
                    "no accent folding)")
        body["settings"]["analysis"] = CORE_ANALYSIS
        body["mappings"]["_meta"]["analysis"] = "core-fallback"
    return body


def new_index_name(prefix: str, version: int = MAPPING_VERSION) -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S%f")
    return f"{alias_name(prefix)}-v{version}-{stamp}"


def create_index(es: Elasticsearch, prefix: str, dims: int, version: int = MAPPING_VERSION,
                 with_alias: bool = True, bulk_mode: bool = False) -> str:
    """Create a concrete index of ``version`` (optionally pointing the alias at it); returns its name."""
    body = definition_for(es, dims, version)
    if bulk_mode:
        body["settings"]["refresh_interval"] = "-1"
    if with_alias:
        body["aliases"] = {alias_name(prefix): {"is_write_index": True}}
    name = new_index_name(prefix, version)
    es.indices.create(index=name, settings=body["settings"], mappings=body["mappings"],
                      aliases=body.get("aliases"))
    log.info("created index %s (mapping v%d, dims %d)", name, version, dims)
    return name


def check_version(es: Elasticsearch, prefix: str) -> str | None:
    """The concrete index behind the alias (None if there is none); raises if its version is wrong."""
    alias = alias_name(prefix)
    indices = concrete_indices(es, alias)
    if not indices:
        return None
    if len(indices) > 1:
        raise IndexVersionError(f"alias {alias} points at {len(indices)} indices ({', '.join(indices)}); "
                                f"run `{FIX_COMMAND}` to rebuild one")
    version = index_version(es, indices[0])
    if version != MAPPING_VERSION:
        raise IndexVersionError(
            f"Elasticsearch index {indices[0]} (alias {alias}) has mapping version {version}, this Prism "
            f"needs version {MAPPING_VERSION}; run `{FIX_COMMAND}` to rebuild it without downtime")
    return indices[0]


class _Lock:
    """An ES-side mutex: creating an index fails if it already exists."""

    def __init__(self, es: Elasticsearch, name: str, break_lock: bool = False):
        self.es, self.name, self.break_lock = es, name, break_lock

    def __enter__(self):
        if self.break_lock:
            self.es.indices.delete(index=self.name, ignore_unavailable=True)
        try:
            self.es.indices.create(index=self.name, settings={"number_of_shards": 1, "number_of_replicas": 0},
                                   mappings={"_meta": {"holder": f"pid-based lock taken {dt.datetime.now()}"}})
        except ApiError as exc:
            if getattr(exc, "error", "") == "resource_already_exists_exception" or exc.meta.status == 400:
                raise ReindexInProgress(
                    f"another reindex or index creation holds {self.name}; wait for it, or if it crashed run "
                    f"`{FIX_COMMAND} --break-lock`") from None
            raise
        return self

    def __exit__(self, *exc):
        self.es.indices.delete(index=self.name, ignore_unavailable=True)


def ensure_index(es: Elasticsearch, settings: Settings, dims: int | None = None) -> str:
    """The concrete index behind the alias, creating it (with ``dims`` or the encoder's) if missing."""
    prefix = settings.es_index_prefix
    current = check_version(es, prefix)
    if current:
        return current
    for _ in range(60):
        try:
            with _Lock(es, lock_name(prefix)):
                current = check_version(es, prefix)
                return current or create_index(es, prefix, dims or default_dims(settings))
        except ReindexInProgress:
            time.sleep(0.5)  # someone else is creating it right now
            current = check_version(es, prefix)
            if current:
                return current
    raise ReindexInProgress(f"{lock_name(prefix)} is held for too long; run `{FIX_COMMAND} --break-lock`")


def status(es: Elasticsearch, settings: Settings) -> dict:
    prefix = settings.es_index_prefix
    alias = alias_name(prefix)
    indices = concrete_indices(es, alias)
    out = {"alias": alias, "expected_mapping_version": MAPPING_VERSION, "indices": []}
    for index in indices:
        out["indices"].append({
            "index": index, "mapping_version": index_version(es, index), "dims": index_dims(es, index),
            "documents": es.count(index=index)["count"]})
    out["ok"] = len(indices) == 1 and out["indices"][0]["mapping_version"] == MAPPING_VERSION
    out["reindex_running"] = bool(es.indices.exists(index=lock_name(prefix)))
    return out


def reindex(es: Elasticsearch, settings: Settings, dims: int | None = None, break_lock: bool = False,
            progress: Callable[[int, int], None] | None = None, poll_s: float = 0.5,
            transform: Transform | None = None) -> dict:
    """Copy everything into a fresh index of the current mapping version and swap the alias atomically.

    ``transform`` (optional) rewrites each batch of ``_source`` documents on their way into the new index
    (``prism index reembed`` puts the current encoder's vectors there); it must return them in order.

    Ingest may go on meanwhile (it writes through the alias into the old index): after the bulk copy,
    catch-up passes compare ids and ``ingest_seq`` and copy again what was added or re-ingested (and
    delete what was deleted) until a pass finds nothing; after the swap one more pass brings over what
    reached the old index in the instant before it. The old index is deleted only after that."""
    prefix = settings.es_index_prefix
    alias = alias_name(prefix)
    with _Lock(es, lock_name(prefix), break_lock=break_lock):
        old = concrete_indices(es, alias)
        if dims is None:
            dims = next((d for d in (index_dims(es, i) for i in old) if d), None) or default_dims(settings)
        new = create_index(es, prefix, dims, with_alias=False, bulk_mode=True)
        try:
            copied = 0
            if old:
                copied = _copy(es, old, new, progress, transform)
            es.indices.put_settings(index=new, settings={"index": {"refresh_interval": "1s"}})
            # ingest keeps writing through the alias (into the old index) while we copy: bring those
            # writes over until a pass finds none, then swap
            for _ in range(CATCH_UP_PASSES):
                if not old or not _catch_up(es, old, new, delete_missing=True, transform=transform):
                    break
            es.indices.refresh(index=new)
            actions = [{"remove": {"index": i, "alias": alias}} for i in old]
            actions.append({"add": {"index": new, "alias": alias, "is_write_index": True}})
            es.indices.update_aliases(actions=actions)
        except BaseException:
            es.indices.delete(index=new, ignore_unavailable=True)
            raise
        if old:
            try:   # what reached the old index in the instant before the swap (newer copies win)
                _catch_up(es, old, new, delete_missing=False, transform=transform)
            except Exception:  # noqa: BLE001 - the swap is done; keep the old index for inspection
                log.exception("catch-up after the alias swap failed; keeping %s", old)
                raise
        for index in old:
            es.indices.delete(index=index, ignore_unavailable=True)
    return {"alias": alias, "old": old, "new": new, "documents": copied, "dims": dims,
            "mapping_version": MAPPING_VERSION}


def _transformed(hits, transform: Transform | None, batch: int = TRANSFORM_BATCH):
    """``(hit, source)`` for every hit, the sources rewritten by ``transform`` a batch at a time."""
    if transform is None:
        for hit in hits:
            yield hit, hit["_source"]
        return
    chunk: list[dict] = []
    for hit in hits:
        chunk.append(hit)
        if len(chunk) >= batch:
            yield from zip(chunk, transform([h["_source"] for h in chunk]))
            chunk = []
    if chunk:
        yield from zip(chunk, transform([h["_source"] for h in chunk]))


def _copy(es: Elasticsearch, source: list[str], dest: str,
          progress: Callable[[int, int], None] | None, transform: Transform | None = None) -> int:
    """Stream every document from ``source`` into ``dest`` (scan + bulk; works without the reindex
    module, which ES's integ-test distribution lacks)."""
    from elasticsearch import helpers

    total = sum(es.count(index=i)["count"] for i in source)
    done = 0
    every = TRANSFORM_BATCH if transform else 1000

    def actions():
        nonlocal done
        hits = helpers.scan(es, index=source, query={"query": {"match_all": {}}}, size=1000, preserve_order=False)
        for hit, src in _transformed(hits, transform):
            done += 1
            if progress and done % every == 0:
                progress(done, total)
            yield {"_op_type": "create", "_index": dest, "_id": hit["_id"], "_source": src}

    ok, errors = helpers.bulk(es, actions(), chunk_size=1000, raise_on_error=False, raise_on_exception=False)
    if progress:
        progress(done, total)
    if errors:
        raise SearchBackendError(f"reindex into {dest} failed for {len(errors)} documents; first: "
                                 f"{json.dumps(errors[0])[:500]}")
    return ok


def _versions(es: Elasticsearch, indices: list[str] | str) -> dict[str, int]:
    """``_id`` -> ``ingest_seq`` of every document (ids and one field only)."""
    from elasticsearch import helpers

    return {hit["_id"]: int((hit.get("_source") or {}).get("ingest_seq") or 0)
            for hit in helpers.scan(es, index=indices, query={"query": {"match_all": {}}}, size=5000,
                                    _source=["ingest_seq"], preserve_order=False)}


def _catch_up(es: Elasticsearch, source: list[str], dest: str, delete_missing: bool,
              transform: Transform | None = None) -> int:
    """Make ``dest`` agree with ``source`` for what was written after the copy began: documents missing
    from ``dest`` or newer in ``source`` (re-ingest stamps a higher ``ingest_seq``) are copied again; with
    ``delete_missing``, documents ``source`` no longer holds are deleted from ``dest``. Returns the
    number of changes."""
    from elasticsearch import helpers

    es.indices.refresh(index=",".join([*source, dest]))
    have, want = _versions(es, dest), _versions(es, source)
    stale = [i for i, seq in want.items() if i not in have or seq > have[i]]
    gone = [i for i in have if i not in want] if delete_missing else []
    actions = [{"_op_type": "delete", "_index": dest, "_id": i} for i in gone]
    for start in range(0, len(stale), 500):
        ids = {"query": {"ids": {"values": stale[start:start + 500]}}}
        hits = helpers.scan(es, index=source, query=ids, preserve_order=False)
        for hit, src in _transformed(hits, transform):
            actions.append({"_op_type": "index", "_index": dest, "_id": hit["_id"], "_source": src})
    if not actions:
        return 0
    _ok, errors = helpers.bulk(es, actions, raise_on_error=False, raise_on_exception=False)
    errors = [e for e in errors if e.get("delete", {}).get("status") != 404]
    if errors:
        raise SearchBackendError(f"reindex catch-up into {dest} failed for {len(errors)} documents; first: "
                                 f"{json.dumps(errors[0])[:500]}")
    es.indices.refresh(index=dest)
    log.info("reindex catch-up: %d copied again, %d deleted in %s", len(stale), len(gone), dest)
    return len(actions)


def delete_all(es: Elasticsearch, prefix: str) -> None:
    """Drop the alias's indices (tests and benchmarks clean up with this)."""
    for index in concrete_indices(es, alias_name(prefix)):
        es.indices.delete(index=index, ignore_unavailable=True)
    es.indices.delete(index=lock_name(prefix), ignore_unavailable=True)
