"""Re-embedding the embedded store's vectors in place, resumably (``prism index reembed``)."""
from __future__ import annotations

import json
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from backend.search.backends.embedded.store import EmbeddedStore


def reembed(store: EmbeddedStore, transform, target: str, dims: int, progress=None, batch: int = 256) -> dict:
    """Re-embed every figure with ``transform`` (:class:`backend.search.index.reembed.Reembedder`), resumably:
    new vectors are staged in the ``reembed`` table in small transactions (an interrupted run
    continues where it stopped), then one transaction re-encodes what changed meanwhile, swaps the
    vectors and ``model_id`` in, and sets the index dims. Until then searches see the old vectors."""
    conn = store.conn()
    with store._write() as w:
        w.execute("CREATE TABLE IF NOT EXISTS reembed (id INTEGER PRIMARY KEY, target TEXT NOT NULL, "
                  "model_id TEXT, image_vector BLOB, text_vector BLOB)")
        w.execute("DELETE FROM reembed WHERE target != ?", (target,))   # a run for another encoder
    total = int(conn.execute("SELECT count(*) FROM figures").fetchone()[0])
    done = resumed = int(conn.execute("SELECT count(*) FROM reembed").fetchone()[0])
    after = 0
    while True:
        rows = conn.execute(
            "SELECT f.id, f.doc, f.image_vector, f.text_vector FROM figures f LEFT JOIN reembed r ON r.id = f.id "
            "WHERE f.id > ? AND r.id IS NULL ORDER BY f.id LIMIT ?", (after, batch)).fetchall()
        if not rows:
            break
        staged = reembed_rows(rows, transform, target)
        with store._write() as w:
            w.executemany("INSERT OR REPLACE INTO reembed VALUES (?, ?, ?, ?, ?)", staged)
        after = rows[-1][0]
        done += len(rows)
        if progress:
            progress(min(done, total), total)
    with store._write() as w:
        late = w.execute("SELECT f.id, f.doc, f.image_vector, f.text_vector FROM figures f LEFT JOIN reembed r "
                         "ON r.id = f.id WHERE r.id IS NULL").fetchall()   # ingested during the run
        w.executemany("INSERT OR REPLACE INTO reembed VALUES (?, ?, ?, ?, ?)",
                      reembed_rows(late, transform, target))
        changed = w.execute(
            "UPDATE figures SET image_vector = r.image_vector, text_vector = r.text_vector, "
            "doc = json_set(doc, '$.model_id', r.model_id) FROM reembed r WHERE figures.id = r.id").rowcount
        w.execute("DROP TABLE reembed")
        w.execute("INSERT OR REPLACE INTO meta VALUES ('dims', ?)", (str(dims),))
        store._bump(w)
    store.snapshot()
    return {"documents": changed, "resumed": resumed, "late": len(late), "dims": dims, "model_id": target}


def reembed_rows(rows: list[tuple], transform, target: str) -> list[tuple]:
    docs = []
    for _id, doc_json, image, text in rows:
        doc = json.loads(doc_json)
        doc["image_vector"] = np.frombuffer(image, dtype=np.float32).tolist() if image is not None else None
        doc["text_vector"] = np.frombuffer(text, dtype=np.float32).tolist() if text is not None else None
        docs.append(doc)
    out = transform(docs) if docs else []
    return [(row[0], target, doc.get("model_id"), _blob(doc.get("image_vector")), _blob(doc.get("text_vector")))
            for row, doc in zip(rows, out)]


def _blob(vector: list[float] | None) -> bytes | None:
    return None if vector is None else np.asarray(vector, dtype=np.float32).tobytes()
