"""Rendering: a fused entry and its representative figure as a :class:`Hit`, its snippets and consensus
explanation, and the facets of the fused head."""
from __future__ import annotations

import html
import re
from collections import Counter

from backend.search.index.documents import TEXT_FIELDS
from backend.search.pipeline.candidates import Candidate
from backend.search.ranking.fusion import DENSE, TEXT, VECTOR, Fused
from backend.search.response import BM25Explain, Explain, FacetBucket, Hit, VectorExplain
from backend.search.text.languages import pick_title
from backend.settings import Settings

FACET_FIELDS = ("cpc_subclass", "locarno_class", "applicant_keys", "country", "year")
FACET_LIMIT = 50
_MARKED = re.compile(r"<mark>(.*?)</mark>")


def render_hit(item: Fused, cand: Candidate, src: dict, explain: bool, lang: str | None = None) -> Hit:
    """The hit of a fused entry: display fields from ``src``, the score and, with ``explain``, each list's
    rank and score and its share of the fused score."""
    fid = cand.figure_id
    titles = dict(src.get("titles") or {})
    hit = Hit(
        figure_id=fid, publication_number=cand.publication_number, figure_number=src.get("figure_number"),
        title=pick_title(src.get("title") or "", titles, lang), titles=titles or None,
        description=src.get("description") or "", kind=src.get("kind"),
        country=src.get("country"), publication_date=src.get("publication_date"),
        filing_date=src.get("filing_date"), priority_date=src.get("priority_date"),
        cpc=list(src.get("cpc") or []), locarno=list(src.get("locarno") or []),
        applicants=list(src.get("applicants") or []), score=round(item.score, 8),
        image_url=f"/figures/{fid}/image", thumbnail_url=f"/figures/{fid}/thumbnail",
        has_image=bool(src.get("image_key")), family_id=src.get("family_id"),
        figure_region=int(src.get("figure_region") or 0), figure_box=src.get("figure_box") or None,
    )
    if explain:
        hit.explain = Explain(
            bm25=BM25Explain(rank=item.ranks[TEXT], score=item.scores[TEXT]) if TEXT in item.ranks else None,
            vector=(VectorExplain(rank=item.ranks[VECTOR], similarity=item.scores[VECTOR])
                    if VECTOR in item.ranks else None),
            dense=(VectorExplain(rank=item.ranks[DENSE], similarity=item.scores[DENSE])
                   if DENSE in item.ranks else None),
            fused=item.score, text_share=round(item.share(TEXT) + item.share(DENSE), 6),
            image_share=round(item.share(VECTOR), 6))
    return hit


def add_snippets(hits: list[Hit], found: dict[str, dict[str, str]], explain: bool) -> None:
    """Matched words marked (``<mark>``, the rest HTML-escaped) per text field of each hit (``found``: the
    page's snippets); with ``explain``, the fields the text matched in."""
    for hit in hits:
        snippets = found.get(hit.figure_id) or {}
        hit.snippets = {f: snippets[f] for f in TEXT_FIELDS if f in snippets} or None
        if hit.explain is not None:
            hit.explain.matched_fields = [f for f in TEXT_FIELDS if f in snippets]
            hit.explain.matched_words = sorted({html.unescape(w).casefold() for text in snippets.values()
                                                for w in _MARKED.findall(text)})


def explain_votes(hits: list[Hit], entries, vector_list: dict[str, Candidate], votes: dict, keyof) -> None:
    """``explain.vector``: the cosine itself (the list's score also holds the consensus), the votes and,
    when the consensus moved the hit, why (``reason``)."""
    for hit, (item, _cand) in zip(hits, entries):
        cand = vector_list.get(item.key)
        if hit.explain is None or hit.explain.vector is None or cand is None:
            continue
        class_vote, patent_vote, why = votes.get(keyof(cand), (None, None, None))
        hit.explain.vector.similarity = cand.score
        hit.explain.vector.reason = why
        if class_vote is not None and class_vote.code is not None:
            hit.explain.vector.class_consensus = class_vote.share
            hit.explain.vector.consensus_class = class_vote.code
        if patent_vote is not None and patent_vote.code is not None:
            hit.explain.vector.patent_consensus = patent_vote.share


def facet_title(name: str, key: str, settings: Settings | None) -> str | None:
    """A facet bucket's title: the Locarno class heading, the CPC subclass title (when the title lists
    are there)."""
    from backend.classification.catalog import cpc_catalog, locarno_classes

    if name == "locarno_class":
        return locarno_classes().get(key)
    if name == "cpc_subclass" and settings is not None:
        return cpc_catalog(str(settings.cpc_titles_dir)).title(key)
    return None


def facets(cands: list[Candidate], settings: Settings | None = None) -> dict[str, list[FacetBucket]]:
    """Per facet field, the commonest values among ``cands`` (at most :data:`FACET_LIMIT`), with titles."""
    out = {}
    for name in FACET_FIELDS:
        counts: Counter[str] = Counter()
        for c in cands:
            counts.update(set(getattr(c, name) or []))
        ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:FACET_LIMIT]
        out[name] = [FacetBucket(key=k, count=n, title=facet_title(name, k, settings)) for k, n in ordered]
    return out
