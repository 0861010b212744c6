"""``prism search QUERY``: the examiner query language from the shell, through the same service as the API.

Filters are options (repeat them for several values); ``--json`` prints the API's response. A bad query
or filter is one line on stderr naming the problem, and exit status 2.
"""
from __future__ import annotations

import html
import json
import re
import sys

import click

from backend.settings import get_settings

DATE_KINDS = ("publication", "filing", "priority")


def build_body(query: str, cpc, ipc, locarno, date_from, date_to, date_kind, applicant, country,
               limit: int) -> dict:
    filters: dict = {}
    for name, values in (("cpc", cpc), ("ipc", ipc), ("locarno", locarno)):
        if values:
            filters[name] = {"include": list(values)}
    if date_from or date_to:
        rng = {k: v.date().isoformat() for k, v in (("gte", date_from), ("lte", date_to)) if v}
        filters["dates"] = {date_kind: rng}
    if applicant:
        filters["applicants"] = list(applicant)
    if country:
        filters["countries"] = list(country)
    return {"text": query, "filters": filters, "size": limit}


def plain_snippet(snippet: str) -> str:
    """``<mark>word</mark>`` -> ``[word]``, HTML entities back to text, one line."""
    text = snippet.replace("<mark>", "[").replace("</mark>", "]")
    return re.sub(r"\s+", " ", html.unescape(text)).strip()


def partial_line(shards: dict) -> str:
    """The API's ``shards`` counts of a partial result as one line."""
    parts = []
    if shards.get("failed"):
        parts.append(f"{shards['failed']} of {shards.get('total', '?')} shards failed")
    if shards.get("timed_out"):
        parts.append("the search timed out")
    return f"partial results: {' and '.join(parts) or 'some shards did not answer'} (some matches may be missing)"


def _fail(message: str) -> None:
    click.echo(f"prism search: {message}", err=True)
    sys.exit(2)


@click.command("search")
@click.argument("query")
@click.option("--cpc", multiple=True, help="CPC symbol at any level, children included (repeatable).")
@click.option("--ipc", multiple=True, help="IPC symbol (repeatable).")
@click.option("--locarno", multiple=True, help="Locarno class or subclass, e.g. 06 or 06-01 (repeatable).")
@click.option("--from", "date_from", type=click.DateTime(["%Y-%m-%d"]),
              help="On or after this date (YYYY-MM-DD).")
@click.option("--to", "date_to", type=click.DateTime(["%Y-%m-%d"]),
              help="On or before this date (YYYY-MM-DD).")
@click.option("--date", "date_kind", type=click.Choice(DATE_KINDS), default="publication", show_default=True,
              help="Which date --from/--to apply to.")
@click.option("--applicant", multiple=True, help="Applicant name (normalised: 'ACME Corp.' = 'Acme').")
@click.option("--country", multiple=True, help="Publication country code, e.g. US (repeatable).")
@click.option("--limit", type=click.IntRange(1, 100), default=20, show_default=True, help="Results to show.")
@click.option("--lang", "langs", multiple=True, metavar="LANG",
              help="Search the text in these languages only: en, de, fr (repeatable or comma-separated; default "
                   "all). Titles are shown in the first one when a document has it.")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON response.")
def search_command(query, cpc, ipc, locarno, date_from, date_to, date_kind, applicant, country, limit, langs,
                   as_json) -> None:
    """Search with QUERY: plain words, or the query language (docs/search.md), e.g.

    prism search 'bubble AND (washer OR laundry) AND pd:>=2020' --cpc D06F
    """
    from backend.search import service
    from backend.search.errors import SearchBackendError, SearchError

    body = build_body(query, cpc, ipc, locarno, date_from, date_to, date_kind, applicant, country, limit)
    if langs:
        body["languages"] = [code.strip() for value in langs for code in value.split(",")]
        body["lang"] = body["languages"][0] or None
    try:
        result = service.search(body, get_settings())
    except SearchError as exc:
        _fail(exc.detail)
    except SearchBackendError as exc:
        _fail(f"search backend unavailable: {exc}")
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    click.echo(f"query: {result.get('parsed_query', '')}")
    click.echo(f"{result['total']}{'+' if result.get('total_relation') == 'gte' else ''} results")
    if result.get("partial"):
        click.echo(f"warning: {partial_line(result.get('shards') or {})}")
    for rank, hit in enumerate(result["hits"], 1):
        fig = f" fig {hit['figure_number']}" if hit.get("figure_number") else ""
        title = hit.get("title") or ""
        click.echo(f"{rank:3d}. {hit['publication_number']}{fig}  {hit['score']:.4f}  {title}")
        snippets = hit.get("snippets") or {}
        for field in ("abstract", "claims", "description", "captions"):
            if field in snippets:
                click.echo(f"     {field}: {plain_snippet(snippets[field])}")
                break


commands = [search_command]
