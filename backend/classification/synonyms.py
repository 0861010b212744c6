"""Everyday words examiners type for what classification titles name otherwise (``shoe`` -> Locarno 02-04
"Footwear", ``chair`` -> "Seats"): each group is a set of words that stand for one another when
classification titles are searched by words (suggest.py). Small and hand-kept: titles use a handful of
generic nouns."""
from __future__ import annotations

GROUPS: tuple[frozenset[str], ...] = tuple(frozenset(g.split()) for g in (
    "shoe shoes footwear boot boots sneaker sneakers sandal sandals slipper slippers",
    "chair chairs seat seats seating stool stools sofa sofas couch bench benches armchair",
    "table tables desk desks",
    "lamp lamps light lights lighting luminaire luminaires",
    "car cars automobile automobiles vehicle vehicles",
    "bottle bottles container containers jar jars flask flasks",
    "phone phones telephone telephones smartphone smartphones",
    "razor razors shaver shavers shaving",
    "bag bags handbag handbags luggage suitcase suitcases",
    "watch watches clock clocks",
    "glasses spectacles eyeglasses sunglasses",
    "cup cups mug mugs drinking",
    "knife knives cutlery",
    "tyre tyres tire tires wheel wheels",
    "computer computers laptop laptops",
    "garment garments clothing clothes apparel",
    "toy toys games",
    "filter filters filtering",
))
_BY_WORD = {word: group for group in GROUPS for word in group}


def alternatives(word: str) -> frozenset[str]:
    """``word`` (case-folded) and the words that stand for it; a plural typed that the table lacks is also
    tried singular (``brushes`` -> ``brush``)."""
    w = word.casefold()
    found = _BY_WORD.get(w) or _BY_WORD.get(w[:-1] if w.endswith("s") else w)
    base = {w, w[:-2] if w.endswith("es") else w, w[:-1] if w.endswith("s") else w}
    return frozenset(base | set(found or ()))
