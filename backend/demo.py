"""``prism demo`` — the main job on the embedded default, no servers.

Ingests a small sample corpus (the IMPACT design patents in ../shared/data/impact when present,
otherwise a generated corpus of patent-style line drawings), then runs a hybrid text + image
search with a classification filter and prints the ranked results with their reasons.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import click

from backend.settings import REPO_ROOT, SHARED_DATA, get_settings, reset_settings_cache


def write_synthetic_corpus(folder: Path, n_patents: int = 40, seed: int = 0) -> Path:
    """Render a long-tailed set of multi-view drawings and a JSONL manifest the ingest CLI reads."""
    from backend.training.synthetic import generate

    folder.mkdir(parents=True, exist_ok=True)
    manifest = folder / "manifest.jsonl"
    with manifest.open("w", encoding="utf-8") as out:
        for patent in generate(n_patents, seed=seed, progress=True):
            figures = []
            for fig in patent.figures:
                name = f"{patent.patent}-F{fig.figure}.png"
                fig.image.save(folder / name)
                figures.append({"number": fig.figure, "description": fig.description, "image": name,
                                "viewpoint": fig.viewpoint, "object_name": fig.object_name})
            out.write(json.dumps({"publication_number": patent.patent, "country": "US", "kind": "S1",
                                  "title": patent.title, "locarno": [patent.locarno],
                                  "publication_date": "2021-01-05", "figures": figures}) + "\n")
    return manifest


def _pick_query(settings):
    """A drawing of the corpus (figure 1 of the first patent with two or more figures)."""
    from sqlalchemy import select

    from backend.db import Figure, Patent, session_scope

    with session_scope(settings.resolved_database_url) as session:
        for patent in session.scalars(select(Patent).order_by(Patent.publication_number)):
            figures = [f for f in patent.figures if f.image_key]
            if len(figures) >= 2:
                fig: Figure = figures[0]
                return patent.publication_number, patent.title, list(patent.locarno), list(patent.cpc), fig
    raise click.ClickException("the corpus has no patent with two or more drawings to query with")


def _reembed_if_stale(settings, console) -> None:
    """A demo index left by an earlier encoder is re-embedded first (ingest would refuse to mix)."""
    from backend.search import get_backend
    from backend.search.index.index_encoder import index_state
    from backend.search.index.reembed import reembed

    state = index_state(get_backend(settings), settings)
    if state["stale"]:
        console.print(f"[bold]0. Re-embed[/] the existing demo index ({state['reason']}) with "
                      f"{state['current']['model_id']} (`prism index reembed`)")
        done = reembed(settings, drop_missing=True)
        console.print(f"   {done['encoded']} figures re-embedded")


@click.command("demo")
@click.option("--corpus", type=click.Path(exists=True, path_type=Path), default=None,
              help="Folder or file to ingest (default: ../shared/data/impact, else a generated corpus).")
@click.option("--data-dir", type=click.Path(path_type=Path), default=REPO_ROOT / "var" / "demo",
              show_default=True, help="Where the embedded index, SQLite database and blobs go.")
@click.option("--size", default=10, show_default=True, help="Results to print.")
@click.option("--captioner", type=click.Choice(["template", "llm"]), default="template", show_default=True,
              help="llm: caption with the local LLM server (`prism services up llm`; needs the llm extra) into "
                   "<data-dir>-llm, and print a few of its captions beside the template's.")
def demo(corpus: Path | None, data_dir: Path, size: int, captioner: str) -> None:
    """Ingest a sample corpus into the embedded default and run a hybrid search with a class filter."""
    from rich.table import Table

    from backend.cli_output import console as make_console

    console = make_console()
    if captioner == "llm":
        from backend.demo_captions import use_local_llm

        use_local_llm(console)
        data_dir = data_dir.with_name(data_dir.name + "-llm")   # never mixed with the template demo's index
    os.environ.update(PRISM_DATA_DIR=str(data_dir), PRISM_SEARCH_BACKEND="embedded", PRISM_TASK_MODE="eager")
    reset_settings_cache()
    settings = get_settings()

    from backend.cli_db import upgrade_database
    from backend.ingest.bulk import ingest_paths
    from backend.search import service as search_service

    upgrade_database(settings.resolved_database_url)
    if corpus is None:
        impact = SHARED_DATA / "impact"
        if impact.is_dir():
            corpus = impact
        else:
            console.print(f"[yellow]{impact} not found: generating a corpus of patent-style drawings[/]")
            corpus = write_synthetic_corpus(data_dir / "synthetic")
    _reembed_if_stale(settings, console)
    console.print(f"[bold]1. Ingest[/] {corpus} -> {data_dir} (embedded backend, in-process tasks)")
    summary = ingest_paths([corpus], settings)
    console.print(f"   ingested {summary.ingested}, updated {summary.updated}, already done {summary.resumed}, "
                  f"failed {summary.failed}, skipped {summary.skipped} in {summary.seconds:.1f}s")
    for origin, error in summary.failures[:5]:
        console.print(f"   [red]failed[/] {origin}: {error}")
    if captioner == "llm":
        from backend.demo_captions import print_caption_pairs

        print_caption_pairs(settings, console)

    number, title, locarno, cpc, figure = _pick_query(settings)
    from backend.ingest.blobstore import get_blob_store

    image_bytes = get_blob_store(settings).get(figure.image_key)
    filters = {"locarno": {"include": locarno[:1]}} if locarno else {"cpc": {"include": cpc[:1]}}
    body = {"text": title, "filters": filters, "size": size, "explain": True, "group_by_patent": False,
            "facets": True}
    console.print(f"[bold]2. Hybrid search[/]: drawing {figure.figure_id} (\"{figure.description[:70]}\")"
                  f" + text \"{title}\", filter {json.dumps(filters)}")
    result = search_service.search(body, settings, image=image_bytes)

    table = Table(title=f"{result['total']} matching figures; top {len(result['hits'])}")
    for col in ("#", "figure", "title", "class", "score", "text rank", "image rank", "text/image share"):
        table.add_column(col)
    for rank, hit in enumerate(result["hits"], 1):
        ex = hit.get("explain") or {}
        bm25, vec = ex.get("bm25") or {}, ex.get("vector") or {}
        table.add_row(str(rank), hit["figure_id"], (hit.get("title") or "")[:40],
                      ", ".join(hit.get("locarno") or hit.get("cpc") or [])[:20], f"{hit['score']:.4f}",
                      str(bm25.get("rank") or "-"), str(vec.get("rank") or "-"),
                      f"{ex.get('text_share', 0):.2f}/{ex.get('image_share', 0):.2f}")
    console.print(table)
    same = sum(1 for h in result["hits"] if h["publication_number"] == number)
    console.print(f"{same} of the top {len(result['hits'])} are drawings of the query's own patent {number}.")
    _drawing_only(search_service, settings, console, image_bytes, number, locarno, cpc, size)
    console.print(f"[bold]Open this data in the examiner UI:[/] prism serve --data-dir {_shown(data_dir)}"
                  "   (prints the URL to open and, the first time, an API key)", soft_wrap=True)


def _shown(path: Path) -> str:
    """``path`` relative to the working directory when it is under it (shorter to copy), else absolute."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path.resolve())


def _drawing_only(search_service, settings, console, image_bytes: bytes, number: str, locarno: list[str],
                  cpc: list[str], size: int) -> None:
    """The same drawing alone: no text, no filter - what the encoder, the class and patent consensus and
    the geometric verification make of it (docs/search.md)."""
    from rich.table import Table

    console.print("[bold]3. Drawing-only search[/]: the same drawing, no text, no filter")
    result = search_service.search({"size": size, "explain": True, "group_by_patent": False}, settings,
                                   image=image_bytes)
    table = Table(title=f"top {len(result['hits'])} figures for the drawing alone")
    for col in ("#", "figure", "title", "class", "similarity", "class consensus", "match score"):
        table.add_column(col)
    for rank, hit in enumerate(result["hits"], 1):
        vec = (hit.get("explain") or {}).get("vector") or {}
        consensus = vec.get("class_consensus")
        table.add_row(str(rank), hit["figure_id"], (hit.get("title") or "")[:40],
                      ", ".join(hit.get("locarno") or hit.get("cpc") or [])[:20],
                      f"{vec['similarity']:.2f}" if vec.get("similarity") is not None else "-",
                      f"{consensus:.0%} {vec.get('consensus_class') or ''}" if consensus is not None else "-",
                      f"{hit['match_score']:.2f}" if hit.get("match_score") is not None else "-")
    console.print(table)
    own = sum(1 for h in result["hits"] if h["publication_number"] == number)
    query_classes = set(locarno or cpc)
    same_class = sum(1 for h in result["hits"] if h["publication_number"] != number
                     and query_classes & set(h.get("locarno") or h.get("cpc") or []))
    others = sum(1 for h in result["hits"] if h["publication_number"] != number)
    console.print(f"{own} of the top {len(result['hits'])} are drawings of {number}; {same_class} of the "
                  f"{others} other patents' drawings share its class ({', '.join(sorted(query_classes)) or 'none'}).")


commands = [demo]
