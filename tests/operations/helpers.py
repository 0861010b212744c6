"""Scraping ``/metrics`` in tests: samples by (name, labels), and documents to ingest."""
from __future__ import annotations

import io
import json

from prometheus_client.parser import text_string_to_metric_families

from tests.ingest.helpers import image_bytes


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """``{(sample name, sorted label items): value}`` of an exposition text."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(scrape: dict, name: str, **labels) -> float:
    return scrape.get((name, tuple(sorted(labels.items()))), 0.0)


def total(scrape: dict, name: str, **labels) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels``."""
    want = set(labels.items())
    return sum(v for (n, ls), v in scrape.items() if n == name and want <= set(ls))


def metadata(pub: str, title: str) -> dict:
    return {"publication_number": pub, "kind": "S1", "title": title, "locarno": ["06-01"],
            "publication_date": "2021-02-02", "applicants": ["Acme Corp"],
            "figures": [{"number": 1, "description": f"FIG. 1 is a front view of a {title.lower()};",
                         "image": "f1.png"},
                        {"number": 2, "description": "FIG. 2 is a top plan view thereof.", "image": "f2.png"}]}


def document_form(pub: str, title: str, seed: int = 0) -> dict:
    """The multipart body of ``POST /documents`` for a two-figure design patent."""
    return {"metadata": json.dumps(metadata(pub, title)),
            "images": [(io.BytesIO(image_bytes("PNG", seed=seed)), "f1.png"),
                       (io.BytesIO(image_bytes("PNG", seed=seed + 1)), "f2.png")]}
