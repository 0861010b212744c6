"""Words for captions: viewpoint synonyms and Locarno class headings (13th edition)."""
from __future__ import annotations

LOCARNO_CLASSES = {
    "01": "Foodstuffs",
    "02": "Articles of clothing and haberdashery",
    "03": "Travel goods, cases, parasols and personal belongings",
    "04": "Brushware",
    "05": "Textile piecegoods, artificial and natural sheet material",
    "06": "Furnishing",
    "07": "Household goods",
    "08": "Tools and hardware",
    "09": "Packages and containers for the transport or handling of goods",
    "10": "Clocks and watches and other measuring instruments, checking and signalling instruments",
    "11": "Articles of adornment",
    "12": "Means of transport or hoisting",
    "13": "Equipment for production, distribution or transformation of electricity",
    "14": "Recording, telecommunication or data processing equipment",
    "15": "Machines",
    "16": "Photographic, cinematographic and optical apparatus",
    "17": "Musical instruments",
    "18": "Printing and office machinery",
    "19": "Stationery and office equipment, artists' and teaching materials",
    "20": "Sales and advertising equipment, signs",
    "21": "Games, toys, tents and sports goods",
    "22": "Arms, pyrotechnic articles, articles for hunting, fishing and pest killing",
    "23": "Fluid distribution equipment, sanitary, heating, ventilation and air-conditioning equipment, solid fuel",
    "24": "Medical and laboratory equipment",
    "25": "Building units and construction elements",
    "26": "Lighting apparatus",
    "27": "Tobacco and smokers' supplies",
    "28": "Pharmaceutical and cosmetic products, toilet articles and apparatus",
    "29": "Devices and equipment against fire hazards, for accident prevention and for rescue",
    "30": "Articles for the care and handling of animals",
    "31": "Machines and appliances for preparing food or drink",
    "32": "Graphic symbols and logos, surface patterns, ornamentation",
}

_DIRECTION_WORDS = {
    "front": "the front", "rear": "the rear", "back": "the back", "left": "the left", "right": "the right",
    "top": "above", "upper": "above", "bottom": "below", "lower": "below", "underside": "below",
    "side": "the side",
}
_KIND_SYNONYMS = {
    "perspective": ["perspective view", "three-dimensional view", "3D view"],
    "isometric": ["isometric view", "three-dimensional view", "axonometric view"],
    "plan": ["plan view", "orthographic projection"],
    "elevation": ["elevation view", "elevational view", "orthographic view"],
    "sectional": ["sectional view", "cross-section", "cutaway view"],
    "cross-sectional": ["cross-sectional view", "section view", "cutaway view"],
    "exploded": ["exploded view", "disassembled view showing the separate parts", "exploded assembly drawing"],
    "enlarged": ["enlarged view", "close-up view", "detail view"],
    "detail": ["detail view", "close-up view", "enlarged partial view"],
    "partial": ["partial view", "fragmentary view", "detail view"],
    "close-up": ["close-up view", "enlarged detail view"],
    "environmental": ["environmental view", "view of the article in use"],
}
_DIAGRAM_SYNONYMS = {
    "block diagram": ["block diagram", "schematic system diagram", "functional block diagram"],
    "flow chart": ["flowchart", "flow diagram of method steps", "process flow chart"],
    "flowchart": ["flowchart", "flow diagram of method steps", "process flow chart"],
    "flow diagram": ["flow diagram", "flowchart of method steps"],
    "circuit diagram": ["circuit diagram", "electrical schematic", "wiring diagram"],
    "timing diagram": ["timing diagram", "signal timing chart"],
    "schematic": ["schematic drawing", "schematic diagram", "simplified diagram"],
    "graph": ["graph", "chart", "plot of measured values"],
    "diagram": ["diagram", "schematic drawing"],
}
_ONLY_DIRECTION = {
    "front": ["front view", "front elevation", "view from the front", "frontal view"],
    "rear": ["rear view", "back view", "view from behind", "rear elevation"],
    "back": ["back view", "rear view", "view from behind", "rear elevation"],
    "left side": ["left side view", "left side elevation", "view from the left", "left profile view"],
    "right side": ["right side view", "right side elevation", "view from the right", "right profile view"],
    "side": ["side view", "side elevation", "profile view"],
    "top": ["top view", "top plan view", "view from above", "overhead view", "plan view"],
    "bottom": ["bottom view", "bottom plan view", "view from below", "underside view"],
}


def _article(phrase: str) -> str:
    return ("an " if phrase[:1].lower() in "aeiou" else "a ") + phrase


def viewpoint_synonyms(viewpoint: str | None) -> list[str]:
    """"front left perspective" -> ["front left perspective view", "perspective view from the front left",
    "three-dimensional view from the front left", ...]; [] when unknown."""
    if not viewpoint:
        return []
    vp = viewpoint.lower().strip()
    for key, phrases in _DIAGRAM_SYNONYMS.items():
        if key in vp:
            return list(dict.fromkeys([vp, *phrases]))
    words = vp.replace("top plan", "top").replace("bottom plan", "bottom").split()
    if " ".join(words) in _ONLY_DIRECTION:
        return list(dict.fromkeys([f"{vp} view", *_ONLY_DIRECTION[" ".join(words)]]))
    directions = [w for w in words if w in _DIRECTION_WORDS]
    kinds = [w for w in words if w in _KIND_SYNONYMS]
    out = [f"{vp} view"]
    if directions:
        where = " ".join(d for d in directions if d not in ("side",)) or "side"
        seen_from = _DIRECTION_WORDS.get(where, f"the {where}")
        for kind in kinds or ["elevation"]:
            for syn in _KIND_SYNONYMS[kind]:
                out.append(f"{syn} from {seen_from}")
        if "top" in directions or "upper" in directions:
            out.append("view from above")
        if "bottom" in directions or "underside" in directions:
            out.append("view from below")
    else:
        for kind in kinds:
            out.extend(_KIND_SYNONYMS[kind])
    return list(dict.fromkeys(out))


def with_article(phrase: str) -> str:
    return _article(phrase)
