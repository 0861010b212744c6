"""Synthetic patents for the scale benchmark, recombined from the real data in ``../shared/data``.

Deterministic for a seed. Each synthetic patent gets:

- CPC symbols drawn from the official 2022.08 CPC title list with a long-tailed spread (subclass
  popularity follows a Zipf law over a seeded shuffle of the ~650 subclasses, main groups within a
  subclass too), Locarno classes for design patents (about a third), country, kind, dates;
- text recombined from real titles (US designs 2007, Korean utility patents, IMPACT designs) and the
  CPC titles of its symbols, figure descriptions in the USPTO phrasing ("FIG. 3 is a front view of
  the ...") and real machine captions;
- per figure a unit vector of the encoder's dimension: the sum of a subclass centre, a main-group
  offset, a patent offset and figure noise, so drawings of the same class are neighbours, as the
  encoder's vectors are, and filtered kNN has realistic selectivity.

Queries are made the same way from patents that are *not* indexed (another seed): a few words of
their title / CPC title and the vector of one of their figures (a new drawing of a known kind).
"""
from __future__ import annotations

import ast
import csv
import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
VIEWS = ["front", "rear", "left side", "right side", "top plan", "bottom plan", "perspective", "front perspective",
         "rear perspective", "exploded perspective", "cross-sectional", "enlarged detail", "schematic",
         "block diagram", "flow chart"]
COUNTRIES = (["US"] * 50) + (["EP"] * 15) + (["CN"] * 15) + (["KR"] * 10) + (["JP"] * 10)
APPLICANT_WORDS = ["Acme", "Nordic", "Sakura", "Hanil", "Rhein", "Pacific", "Atlas", "Vertex", "Lumen", "Orion",
                   "Kestrel", "Meridian", "Tianjin", "Osaka", "Bavaria", "Cascade", "Summit", "Polaris", "Delta",
                   "Aurora"]
APPLICANT_SUFFIX = ["Inc.", "GmbH", "Co., Ltd.", "Corporation", "AG", "LLC", "S.A.", "K.K."]
WEIGHTS = {"subclass": 1.0, "group": 0.8, "patent": 0.55, "figure": 0.45}
_BRACES = re.compile(r"\{|\}|\([^()]*\)|\[[^\]]*\]")


def _clean(title: str) -> str:
    prev = None
    while prev != title:
        prev, title = title, _BRACES.sub("", title)
    return re.sub(r"\s+", " ", title.replace(";", ",")).strip(" ,")


def _seed(*parts) -> int:
    return int.from_bytes(hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest(), "little")


@dataclass(frozen=True)
class Query:
    text: str
    vector: list[float]
    subclass: str
    publication_number: str


class Corpus:
    """Synthetic figures: ``figures(start_patent, n_patents)`` is a pure function of the seed."""

    def __init__(self, dims: int, seed: int = 0, data: Path = DATA, figures_per_patent: float = 5.0):
        self.dims, self.seed, self.data, self.fpp = dims, seed, data, figures_per_patent
        if not (data / "cpc_titles").is_dir():
            raise FileNotFoundError(f"the real patent data is not at {data} (see ../shared/data/README.md)")

    # -- real material ----------------------------------------------------------------------------
    @cached_property
    def cpc(self) -> tuple[list[str], dict[str, list[tuple[str, str]]], dict[str, str]]:
        """(subclasses in seeded popularity order, subclass -> [(main group symbol, title)], symbol -> title)."""
        groups: dict[str, list[tuple[str, str]]] = {}
        titles: dict[str, str] = {}
        for path in sorted((self.data / "cpc_titles").glob("cpc-section-[A-H]_*.txt")):
            for line in path.read_text(encoding="utf-8").splitlines():
                parts = line.split("\t")
                if len(parts) < 3:
                    continue
                symbol, level, title = parts[0].strip(), parts[1].strip(), _clean(parts[2])
                if not title:
                    continue
                titles[symbol] = title
                if level == "0" and "/" in symbol:
                    groups.setdefault(symbol[:4], []).append((symbol, title))
        subclasses = sorted(groups)
        np.random.default_rng(self.seed + 7).shuffle(subclasses)
        return subclasses, groups, titles

    @cached_property
    def subgroups(self) -> dict[str, list[str]]:
        """main group -> its subgroup symbols (to give patents full symbols like ``A47C7/022``)."""
        out: dict[str, list[str]] = {}
        for symbol in self.cpc[2]:
            if "/" in symbol and not symbol.endswith("/00"):
                out.setdefault(symbol.split("/")[0] + "/00", []).append(symbol)
        return out

    @cached_property
    def real_titles(self) -> list[str]:
        out = [json.loads(line)["title"] for line in (self.data / "usdesign2007" / "designs.jsonl").open()]
        for line in (self.data / "kr_utility" / "patents.jsonl").open():
            t = json.loads(line).get("title_en") or ""
            if t:
                out.append(t.capitalize())
        out += [row["title"] for row in self._impact]
        return sorted({t.strip() for t in out if t.strip()})

    @cached_property
    def _impact(self) -> list[dict]:
        with (self.data / "impact" / "sample_data.csv").open(newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))

    @cached_property
    def captions(self) -> list[str]:
        return [row["caption"].strip() for row in self._impact if row.get("caption", "").strip()]

    @cached_property
    def locarno(self) -> list[str]:
        codes = set()
        for row in self._impact:
            try:
                first = ast.literal_eval(row["class_search"])[0]
            except (ValueError, SyntaxError, IndexError):
                continue
            if len(first) == 4 and first.isdigit():
                codes.add(f"{first[:2]}-{first[2:]}")
        return sorted(codes) or ["06-01"]

    @cached_property
    def _sub_cum(self) -> np.ndarray:
        """Cumulative Zipf(1.05) popularity of the subclasses (sampled by ``searchsorted``)."""
        w = 1.0 / np.arange(1, len(self.cpc[0]) + 1) ** 1.05
        return np.cumsum(w / w.sum())

    def _group_cum(self, sub: str, cache: dict = {}) -> np.ndarray:  # noqa: B006 - memo across calls
        if sub not in cache:
            w = 1.0 / np.arange(1, len(self.cpc[1][sub]) + 1) ** 0.9
            cache[sub] = np.cumsum(w / w.sum())
        return cache[sub]

    @staticmethod
    def _pick(cum: np.ndarray, rng: np.random.Generator) -> int:
        return min(int(np.searchsorted(cum, rng.random())), len(cum) - 1)

    # -- vectors --------------------------------------------------------------------------------
    def _unit(self, *key) -> np.ndarray:
        v = np.random.default_rng(_seed(self.seed, *key)).standard_normal(self.dims).astype(np.float32)
        return v / np.linalg.norm(v)

    @cached_property
    def _centres(self) -> dict[str, np.ndarray]:
        return {s: self._unit("sub", s) for s in self.cpc[0]}

    def _group_offset(self, group: str, cache: dict = {}) -> np.ndarray:  # noqa: B006 - memo across calls
        key = (self.seed, self.dims, group)
        if key not in cache:
            cache[key] = self._unit("group", group)
        return cache[key]

    # -- patents --------------------------------------------------------------------------------
    def _patent(self, i: int, tag: str) -> tuple[dict, list[dict], list[np.ndarray]]:
        rng = np.random.default_rng(_seed(self.seed, tag, i))
        subclasses, groups, titles = self.cpc
        sub = subclasses[self._pick(self._sub_cum, rng)]
        glist = groups[sub]
        group, gtitle = glist[self._pick(self._group_cum(sub), rng)]
        subs = self.subgroups.get(group) or [group]
        symbols = [subs[int(rng.integers(len(subs)))]]
        if rng.random() < 0.5:  # a second symbol, often from another subclass
            other = subclasses[self._pick(self._sub_cum, rng)]
            og = groups[other][int(rng.integers(len(groups[other])))][0]
            symbols.append(og)
        design = rng.random() < 0.33
        real = self.real_titles[int(rng.integers(len(self.real_titles)))]
        gwords = gtitle.split(",")[0].strip()
        title = real if rng.random() < 0.5 else f"{real} for {gwords.lower()}"
        sym_title = _clean(titles.get(symbols[0], gtitle))
        caption = self.captions[int(rng.integers(len(self.captions)))]
        abstract = (f"A {title.lower()} is disclosed. The invention relates to {titles.get(sub, '').lower()}, "
                    f"in particular {gtitle.lower()}: {sym_title.lower()}. {caption}")
        claims = (f"The ornamental design for a {title.lower()}, as shown and described." if design else
                  f"1. A {title.lower()} comprising {sym_title.lower()}, wherein {gwords.lower()}.")
        country = COUNTRIES[int(rng.integers(len(COUNTRIES)))]
        filing = dt.date(2000, 1, 1) + dt.timedelta(days=int(rng.integers(0, 24 * 365)))
        pub = filing + dt.timedelta(days=int(rng.integers(300, 1200)))
        applicant = (f"{APPLICANT_WORDS[int(rng.zipf(1.6)) % len(APPLICANT_WORDS)]} "
                     f"{APPLICANT_WORDS[int(rng.integers(len(APPLICANT_WORDS)))]} "
                     f"{APPLICANT_SUFFIX[int(rng.integers(len(APPLICANT_SUFFIX)))]}")
        number = f"{country}{tag.upper()}{i:09d}"
        patent = {
            "publication_number": number, "kind": "S" if design else "B2", "country": country, "title": title,
            "abstract": abstract, "claims": claims, "applicants": [applicant], "cpc": symbols,
            "locarno": [self.locarno[int(rng.integers(len(self.locarno)))]] if design else [],
            "filing_date": filing.isoformat(), "publication_date": pub.isoformat(),
        }
        base = (WEIGHTS["subclass"] * self._centres[sub] + WEIGHTS["group"] * self._group_offset(group)
                + WEIGHTS["patent"] * rng.standard_normal(self.dims).astype(np.float32) / np.sqrt(self.dims))
        n_fig = max(1, min(15, int(rng.poisson(self.fpp - 1)) + 1))
        noise = rng.standard_normal((n_fig, self.dims)).astype(np.float32) / np.sqrt(self.dims)
        all_v = base + WEIGHTS["figure"] * noise
        all_v /= np.linalg.norm(all_v, axis=1, keepdims=True)
        views = rng.integers(len(VIEWS), size=n_fig)
        figures, vecs = [], list(all_v)
        for k in range(1, n_fig + 1):
            view = VIEWS[int(views[k - 1])]
            figures.append({**patent, "figure_id": f"{number}-F{k}", "figure_number": k, "viewpoint": view,
                            "description": f"FIG. {k} is a {view} view of the {title.lower()}.",
                            "captions": [f"{view} view"]})
        return patent, figures, vecs

    def figures(self, start: int, count: int, tag: str = "s"):
        """Yield (figure document without vector, vector) for patents ``start .. start+count-1``."""
        for i in range(start, start + count):
            _p, figs, vecs = self._patent(i, tag)
            yield from zip(figs, vecs)

    def queries(self, n: int) -> list[Query]:
        """``n`` queries from patents that are not in the corpus (tag ``q``)."""
        out = []
        for i in range(n):
            patent, figs, vecs = self._patent(i, "q")
            rng = np.random.default_rng(_seed(self.seed, "qtext", i))
            words = [w for w in re.findall(r"[a-z]{4,}", patent["title"].lower() + " " +
                                           _clean(self.cpc[2].get(patent["cpc"][0], "")).lower())]
            picked = list(dict.fromkeys(rng.permutation(words).tolist()))[:3] if words else ["device"]
            out.append(Query(" ".join(picked), vecs[int(rng.integers(len(vecs)))].tolist(), patent["cpc"][0][:4],
                             patent["publication_number"]))
        return out
