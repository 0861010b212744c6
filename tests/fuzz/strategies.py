"""Hypothesis strategies for hostile and odd input: query texts, /search bodies, cursors, uploaded images of
extreme shapes and modes, manifest (JSONL) lines. Shared by the fuzzing tests (tests/fuzz/); extend them here
when a new kind of input is found to break something."""
from __future__ import annotations

import base64
import io
import json

from hypothesis import strategies as st

WORDS = ["chair", "lamp", "view", "razor", "table", "semiconductor", "wafer", "the", "and", "or", "not", "x",
         "ärmel", "stühle", "日本", "a1", "9999", "0"]
FIELDS = ["", "", "ti:", "ab:", "cl:", "desc:", "fig:", "pa:", "pn:", "cpc:", "ipc:", "loc:", "in:", "zz:"]
DATE_FIELDS = ["pd:", "ad:", "prd:"]
OPERATORS = ["AND", "OR", "NOT", "-", "", "NEAR", "ADJ", "NEAR/0", "ADJ/3", "NEAR/1000", "NEAR/99999"]
HOSTILE_CHARS = list('()"~*?:-[]<>=/\\^{}!&|+ \t\n') + ["\x00", "\ud800", "\u202e", "\ufeff"]


def _years() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(["0000", "0001", "1999", "2020", "9999", "10000", "99999"]),
                     st.integers(0, 9999).map(lambda y: f"{y:04d}"))


def dates() -> st.SearchStrategy[str]:
    """Date values at and past the calendar's ends, partial dates and non-dates."""
    month = st.sampled_from(["", "-01", "-02", "-12", "-13", "-00", "12"])
    day = st.sampled_from(["", "-01", "-29", "-31", "-32", "-00"])
    return st.one_of(st.tuples(_years(), month, day).map("".join),
                     st.sampled_from(["*", "today", "2020-1-1", "2020/01/01", "-1", "1e9"]))


def _term() -> st.SearchStrategy[str]:
    word = st.sampled_from(WORDS)
    return st.one_of(
        st.tuples(st.sampled_from(FIELDS), word).map("".join),
        st.tuples(st.sampled_from(FIELDS), word, st.sampled_from(["*", "?", "??*", ""])).map("".join),
        st.lists(word, min_size=1, max_size=8).map(lambda ws: '"' + " ".join(ws) + '"'),
        st.tuples(st.lists(word, min_size=1, max_size=12), st.integers(0, 1200))
          .map(lambda t: '"' + " ".join(t[0]) + f'"~{t[1]}'),
        st.tuples(st.sampled_from(DATE_FIELDS), st.sampled_from(["", ">", ">=", "<", "<="]), dates())
          .map("".join),
        st.tuples(st.sampled_from(DATE_FIELDS), dates(), dates()).map(lambda t: f"{t[0]}[{t[1]} TO {t[2]}]"),
    )


def query_texts() -> st.SearchStrategy[str]:
    """Query-language text: grammar-shaped (fields, phrases, ~n, NEAR/ADJ, dates, groups nested deep) and raw
    text of the language's own characters."""
    structured = st.recursive(
        _term(),
        lambda inner: st.one_of(
            st.tuples(inner, st.sampled_from(OPERATORS), inner).map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
            inner.map(lambda q: f"({q})"),
            st.tuples(st.sampled_from(["NOT ", "-", "NOT -"]), inner).map("".join),
        ),
        max_leaves=12,
    )
    deep = st.tuples(st.integers(1, 400), st.sampled_from(["(", "NOT (", "-(", "NOT "]), st.sampled_from(WORDS)) \
        .map(lambda t: t[1] * t[0] + t[2] + (")" * t[0] if "(" in t[1] else ""))
    raw = st.text(alphabet=st.sampled_from(HOSTILE_CHARS + list("abcNEARDTO0129")), max_size=300)
    return st.one_of(structured, deep, raw, st.text(max_size=200))


def cursors() -> st.SearchStrategy[str]:
    """Cursor strings: random text, and base64 of JSON objects shaped like ours with hostile values."""
    value = st.one_of(st.integers(-2 ** 70, 2 ** 70), st.floats(allow_nan=False), st.text(max_size=10), st.none(),
                      st.lists(st.integers(), max_size=3), st.sampled_from(["1e999"]))
    shaped = st.fixed_dictionaries({"o": value, "f": st.one_of(st.text(max_size=20), value)},
                                   optional={"a": st.one_of(value, st.tuples(value, value).map(list)), "r": value})
    encoded = shaped.map(lambda d: base64.urlsafe_b64encode(json.dumps(d).replace('"1e999"', "1e999")
                                                            .encode()).decode().rstrip("="))
    return st.one_of(encoded, st.text(max_size=80), st.binary(max_size=60).map(
        lambda b: base64.urlsafe_b64encode(b).decode()))


def _vector(dims: int) -> st.SearchStrategy[list]:
    finite = st.floats(allow_nan=False, allow_infinity=False)
    return st.one_of(st.lists(finite, min_size=dims, max_size=dims), st.lists(finite, max_size=dims + 3),
                     st.just([0.0] * dims), st.just([1e300] * dims), st.just([5e-324] * dims))


def search_bodies(dims: int) -> st.SearchStrategy[dict]:
    """/search bodies: every field, with values of the right and of the wrong type and size."""
    anything = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                                      st.text(max_size=20)),
                            lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                    st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                            max_leaves=8)
    date_range = st.fixed_dictionaries({}, optional={"gte": st.one_of(dates(), anything),
                                                     "lte": st.one_of(dates(), anything)})
    filters = st.fixed_dictionaries({}, optional={
        "cpc": st.fixed_dictionaries({}, optional={"include": st.lists(st.sampled_from(
            ["A47C", "H01L21/02", "A47C 4/04", "Z99Z", "", "A" * 300]), max_size=3)}),
        "locarno": st.fixed_dictionaries({}, optional={"include": st.lists(st.sampled_from(["06-01", "99-99", "0601"]),
                                                                             max_size=2)}),
        "dates": st.fixed_dictionaries({}, optional={"publication": date_range, "filing": date_range,
                                                     "priority": date_range}),
        "countries": st.lists(st.sampled_from(["US", "EP", "DE", "XX", ""]), max_size=3),
    })
    return st.fixed_dictionaries({}, optional={
        "text": st.one_of(query_texts(), anything),
        "vector": st.one_of(_vector(dims), anything),
        "size": st.one_of(st.integers(-5, 200), anything),
        "cursor": st.one_of(cursors(), anything),
        "filters": st.one_of(filters, anything),
        "weights": st.one_of(st.fixed_dictionaries({}, optional={"text": st.floats(-1, 1e6, allow_nan=False),
                                                                 "image": st.floats(-1, 1e6, allow_nan=False)}),
                             anything),
        "fusion": st.sampled_from(["rrf", "weighted", "nope", 3]),
        "group_by_patent": st.one_of(st.booleans(), anything),
        "explain": st.booleans(),
        "facets": st.booleans(),
        "exclude_patents": st.lists(st.sampled_from(["USD0000001", "x", "", "US" + "9" * 60]), max_size=3),
        "image_figure_id": st.one_of(st.sampled_from(["USD0000001-F1", "nope", ""]), anything),
        "lang": st.sampled_from(["en", "de", "fr", "xx", ""]),
        "unknown_field": anything,
    })


MODES = {"PNG": ["1", "L", "LA", "P", "RGB", "RGBA", "I;16"], "TIFF": ["1", "L", "RGB", "I", "F", "I;16"],
         "JPEG": ["L", "RGB"]}
MAX_FUZZ_PIXELS = 2_000_000        # what one generated image may hold (the fuzzing process's memory)


def _image_bytes(fmt: str, mode_index: int, width: int, height: int, seed: int) -> bytes:
    import numpy as np
    from PIL import Image, ImageDraw

    mode = MODES[fmt][mode_index % len(MODES[fmt])]
    rng = np.random.default_rng(seed)
    grey = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(grey)
    for _ in range(int(rng.integers(0, 8))):
        x0, x1 = sorted(rng.integers(0, width, 2).tolist())
        y0, y1 = sorted(rng.integers(0, height, 2).tolist())
        draw.rectangle((x0, y0, x1, y1), outline=0)
    if mode in ("I", "I;16", "F"):
        image = Image.fromarray(np.asarray(grey, dtype=np.float32) * (257.0 if mode != "F" else 1 / 255.0),
                                "F").convert("I")
        image = image if mode == "I" else (image.convert("F") if mode == "F" else image.convert("I;16"))
    else:
        image = grey.convert(mode)
    buf = io.BytesIO()
    options = {"compression": "group4"} if fmt == "TIFF" and mode == "1" else {}
    image.save(buf, fmt, **options)
    return buf.getvalue()


def _shapes() -> st.SearchStrategy[tuple[int, int]]:
    ordinary = st.tuples(st.integers(8, 600), st.integers(8, 600))
    tiny = st.tuples(st.integers(1, 12), st.integers(1, 12))
    strip = st.tuples(st.integers(1, 30), st.integers(300, 60_000))
    extreme = st.one_of(strip, strip.map(lambda t: (t[1], t[0])))
    return st.one_of(ordinary, tiny, extreme).filter(lambda wh: wh[0] * wh[1] <= MAX_FUZZ_PIXELS)


def images() -> st.SearchStrategy[bytes]:
    """Encoded images (PNG, TIFF, JPEG) of every mode those carry, from 1 x 1 to 60,000 x 30 px, with random
    boxes drawn on them, plus truncated and non-image bytes."""
    encoded = st.builds(lambda fmt, m, wh, seed: _image_bytes(fmt, m, wh[0], wh[1], seed),
                        st.sampled_from(sorted(MODES)), st.integers(0, 6), _shapes(), st.integers(0, 2 ** 16))
    return st.one_of(encoded, encoded.map(lambda b: b[: max(8, len(b) // 2)]), st.binary(max_size=200))


def manifest_lines() -> st.SearchStrategy[bytes]:
    """JSONL manifest lines (bytes, no newline): metadata objects with good, odd and oversize fields, and lines
    that are not JSON or not UTF-8."""
    text = st.one_of(st.text(max_size=40), st.sampled_from(["\ud800", "a\x00b", "=HYPERLINK(1)", "x" * 3000]))
    number = st.one_of(st.integers(-5, 10 ** 30), st.text(max_size=8), st.none(), st.sampled_from(["9" * 5000]))
    figure = st.fixed_dictionaries({}, optional={"number": number, "description": text, "label": text,
                                                 "viewpoint": text, "image": st.sampled_from(["", "nope.png"]),
                                                 "extra": text})
    meta = st.fixed_dictionaries(
        {"publication_number": st.one_of(st.sampled_from(["USD0999700", "EP1234567A1", "US" + "1" * 40]), text)},
        optional={"title": text, "abstract": text, "claims": text, "kind": text, "country": text,
                  "publication_date": st.one_of(dates(), text), "applicants": st.lists(text, max_size=3),
                  "cpc": st.lists(st.sampled_from(["A47C4/04", "nope", ""]), max_size=3),
                  "figures": st.one_of(st.lists(figure, max_size=4), text), "colour": text})
    return st.one_of(meta.map(lambda m: json.dumps(m).encode()),
                     st.text(max_size=80).map(lambda s: s.encode("utf-8", "surrogatepass")),
                     st.binary(max_size=80)).map(lambda b: b.replace(b"\n", b" ").replace(b"\r", b" "))
