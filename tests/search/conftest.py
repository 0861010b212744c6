"""Search-core fixtures: one empty backend per test, embedded (tmp dir) or Elasticsearch (the real
server, a unique index prefix per test, dropped afterwards), and a small deterministic corpus."""
from __future__ import annotations

import uuid

import numpy as np
import pytest

DIMS = 8


def unit(rng: np.random.Generator, dims: int = DIMS) -> list[float]:
    v = rng.normal(size=dims)
    return (v / np.linalg.norm(v)).astype(np.float32).tolist()


def indexed(backend, docs: list[dict], batch: int = 250):
    """``backend`` holding ``docs`` (written in batches, then refreshed)."""
    for start in range(0, len(docs), batch):
        backend.index_figures(docs[start:start + batch])
    backend.refresh()
    return backend


def elasticsearch_with(backend, docs: list[dict], why: str, batch: int = 250):
    """The Elasticsearch ``backend`` holding ``docs``; the embedded one skips the test, saying ``why``."""
    if backend.name != "elasticsearch":
        pytest.skip(f"Elasticsearch only: {why}")
    return indexed(backend, docs, batch)


def figure(pub: str, n: int, vector: list[float] | None, **fields) -> dict:
    doc = {"figure_id": f"{pub}-F{n}", "publication_number": pub, "figure_number": n, "kind": "S1",
           "country": "US", "title": "", "abstract": "", "claims": "", "description": f"FIG. {n} is a view",
           "viewpoint": None, "object_name": None, "captions": [], "applicants": [], "cpc": [], "ipc": [],
           "locarno": [], "filing_date": None, "publication_date": None, "priority_date": None,
           "image_vector": vector, "text_vector": None, "image_key": None, "thumb_key": None, "ingest_seq": 1}
    doc.update(fields)
    return doc


# (publication number, figures, patent fields): hand-made so every filter has a known answer
PATENTS = [
    ("USD0000001", 2, dict(title="Folding chair with armrest", cpc=["A47C 4/04"], locarno=["06-01"],
                           filing_date="2019-05-01", publication_date="2020-06-01", priority_date="2019-01-01",
                           applicants=["Acme Corp."], kind="S1", country="US")),
    ("USD0000002", 2, dict(title="Office chair base with castors", cpc=["A47C0007004000"], locarno=["0601"],
                           filing_date="2020-02-01", publication_date="2021-03-01", priority_date="2019-12-01",
                           applicants=["Globex GmbH"], kind="S1", country="US")),
    ("EP0000003B1", 1, dict(title="Semiconductor wafer processing", cpc=["H01L 21/02"], ipc=["H01L 21/02"],
                            filing_date="2018-01-10", publication_date="2019-01-10", priority_date="2017-06-01",
                            applicants=["Ácme Corporation"], kind="B1", country="EP")),
    ("US0000004B2", 1, dict(title="Semiconductor mask making", cpc=["H01L21/027"], ipc=["H01L 21/00"],
                            filing_date="2021-01-01", publication_date="2022-01-01", applicants=["Initech"],
                            kind="B2", country="US")),
    ("US0000005B2", 2, dict(title="Table lamp with dimmer", cpc=["F21S 6/00"], locarno=["26-05"],
                            filing_date="2017-03-03", publication_date="2018-03-03", applicants=["Globex"],
                            kind="B2", country="US")),
    ("DE0000006U1", 1, dict(title="Stühle und Tische", abstract="chaise pliante à accoudoirs",
                            cpc=["A47C 4/28", "A47B 3/00"], locarno=["LOC (13) Cl. 06-01", "06-03"],
                            publication_date="2020-01-01", kind="U1", country="DE")),
]


def corpus_docs(seed: int = 42) -> list[dict]:
    rng = np.random.default_rng(seed)
    docs = []
    for pub, n_figs, fields in PATENTS:
        for n in range(1, n_figs + 1):
            docs.append(figure(pub, n, unit(rng), **fields))
    return docs


#: a small CPC title list of the project's own (symbol, level, title as in the CPC TitleList format): every
#: valid symbol the search tests use, so "unknown symbol" checks work without ../shared/data/cpc_titles
OWN_CPC_TITLES = {
    "A": [("A", "", "Human needs"), ("A47", "", "Furniture; domestic articles"), ("A47B", "", "Tables; desks"),
          ("A47B3/00", "0", "Folding or stowable tables"), ("A47C", "", "Chairs; sofas; beds"),
          ("A47C4/00", "0", "Foldable, collapsible or dismountable chairs"), ("A47C4/04", "1", "Folding chairs"),
          ("A47C4/28", "1", "Folding chairs with a folding seat"), ("A47C7/00", "0", "Parts of chairs"),
          ("A47C7/004", "1", "{Chair or stool bases}"), ("A47C7/62", "1", "Accessories for chairs"),
          ("A47C7/622", "2", "{Receptacles}")],
    "B": [("B", "", "Operations; transport"), ("B26", "", "Cutting"), ("B26B", "", "Hand cutting tools"),
          ("B26B21/00", "0", "Razors"), ("B26B21/4068", "1", "{Razor blade units}")],
    "F": [("F", "", "Engineering; lighting"), ("F21", "", "Lighting"), ("F21S", "", "Non-portable lighting"),
          ("F21S6/00", "0", "Lighting devices for table or desk use")],
    "G": [("G", "", "Physics"), ("G06", "", "Computing"), ("G06F", "", "Electric digital data processing"),
          ("G06F3/00", "0", "Input and output arrangements"), ("G06F3/0482", "1", "Menu-based interaction")],
    "H": [("H", "", "Electricity"), ("H01", "", "Electric elements"), ("H01L", "", "Semiconductor devices"),
          ("H01L21/00", "0", "Processes for making semiconductor devices"), ("H01L21/02", "1", "Making devices"),
          ("H01L21/027", "2", "Making masks on semiconductor bodies")],
    "Y": [("Y", "", "General tagging"), ("Y02", "", "Climate change mitigation"), ("Y02E", "", "Energy"),
          ("Y02E10/50", "0", "Photovoltaic energy")],
}


@pytest.fixture(scope="session")
def own_cpc_titles(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cpc_titles")
    for section, rows in OWN_CPC_TITLES.items():
        (folder / f"cpc-section-{section}_test.txt").write_bytes(
            "".join(f"{sym}\t{level}\t{title}\r\n" for sym, level, title in rows).encode())
    return folder


@pytest.fixture
def make_settings(make_settings, own_cpc_titles):
    """The shared ``make_settings``; without ../shared/data/cpc_titles the title list is the project's own
    small one above, so symbol validation (unknown symbol -> 400) is tested either way."""
    from backend.settings import SHARED_DATA

    if (SHARED_DATA / "cpc_titles").is_dir():
        return make_settings
    return lambda **overrides: make_settings(**{"cpc_titles_dir": own_cpc_titles, **overrides})


@pytest.fixture(params=["embedded", "elasticsearch"])
def backend(request, make_settings):
    """An empty backend of each kind (vectors of DIMS dimensions)."""
    from backend.search import get_backend

    if request.param == "embedded":
        settings = make_settings(search_backend="embedded")
        yield get_backend(settings)
        return
    es_url = request.getfixturevalue("es_url")
    from backend.search.index import index_admin

    prefix = f"t{uuid.uuid4().hex[:10]}"
    settings = make_settings(search_backend="elasticsearch", es_url=es_url, es_index_prefix=prefix)
    es = index_admin.make_client(settings)
    index_admin.create_index(es, prefix, DIMS)
    try:
        yield get_backend(settings)
    finally:
        index_admin.delete_all(es, prefix)


@pytest.fixture
def corpus(backend):
    docs = corpus_docs()
    backend.index_figures(docs)
    backend.refresh()
    return docs


def run_cli(*args):
    """``prism ARGS`` in this process (click's runner): the result with its output and exit code."""
    from click.testing import CliRunner

    from backend.cli import _register, cli

    _register()
    return CliRunner().invoke(cli, list(args))


def drop_es_indices(es_url: str, prefix: str) -> None:
    """Delete the Elasticsearch indices a test made under its own prefix."""
    from elasticsearch import Elasticsearch

    Elasticsearch(es_url).indices.delete(index=f"{prefix}*", ignore_unavailable=True, allow_no_indices=True)
