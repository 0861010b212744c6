"""``prism demo --captioner llm``: the demo's ingest captions with the local LLM server, and a few of its
captions printed beside the template's for the same figures."""
from __future__ import annotations

import os

import click


def use_local_llm(console) -> str:
    """Start (or reuse) ``prism services up llm`` and point this process's captioner at it."""
    from backend import devservices

    console.print("[bold]0. LLM captions[/]: llama.cpp's server with the packaged SmolLM2-135M-Instruct "
                  "(`prism services up llm`; answers are cached, a second run makes no call)")
    try:
        url = devservices.llm_up()
    except devservices.ServiceError as exc:
        raise click.ClickException(f"the local LLM server could not start: {exc}") from None
    os.environ.update(PRISM_CAPTIONER="llm", PRISM_LLM_BASE_URL=url, PRISM_LLM_MODEL=devservices.LLM_ALIAS)
    return url


def caption_pairs(settings, n: int = 3) -> list[tuple[str, list[str], list[str]]]:
    """(figure id, stored captions, template captions) for the first ``n`` figures with captions."""
    from sqlalchemy import select

    from backend.db import Figure, Patent, session_scope
    from backend.ingest.captioning.base import FigureContext
    from backend.ingest.captioning.template import TemplateCaptioner

    template = TemplateCaptioner(settings.cpc_titles_dir)
    out = []
    with session_scope(settings.resolved_database_url) as session:
        rows = session.execute(select(Figure, Patent).join(Patent).where(Figure.number > 0)
                               .order_by(Figure.figure_id).limit(n * 4))
        for figure, patent in rows:
            if not figure.captions or len(out) >= n:
                continue
            context = FigureContext(patent.publication_number, figure.number, patent.title or "",
                                    f"FIG. {figure.number}", figure.description or "", figure.viewpoint,
                                    figure.object_name, patent.kind, list(patent.cpc or []),
                                    list(patent.locarno or []), patent.abstract or "")
            out.append((figure.figure_id, list(figure.captions), template.caption_one(context)))
    return out


def print_caption_pairs(settings, console, n: int = 3) -> None:
    from rich.table import Table

    table = Table(title="LLM captions beside the template's (the same figure facts)")
    for col in ("figure", "LLM (stored)", "template"):
        table.add_column(col)
    for figure_id, llm, template in caption_pairs(settings, n):
        table.add_row(figure_id, "\n".join(llm), "\n".join(template))
    console.print(table)
