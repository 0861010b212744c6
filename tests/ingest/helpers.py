"""Small generated fixtures and unit-test fakes for the ingest tests."""
from __future__ import annotations

import hashlib
import io
import re

import numpy as np
from PIL import Image, ImageDraw


def drawing(seed: int = 0, size=(600, 800), mode: str = "1") -> Image.Image:
    """A line drawing on white with wide margins (what patent sheets look like)."""
    rng = np.random.default_rng(seed)
    im = Image.new("L", size, 255)
    d = ImageDraw.Draw(im)
    for _ in range(6):
        x0, y0 = rng.integers(150, 300, 2)
        x1, y1 = x0 + rng.integers(50, 150), y0 + rng.integers(50, 300)
        d.rectangle([int(x0), int(y0), int(x1), int(y1)], outline=0, width=3)
    return im.convert(mode) if mode != "L" else im


def image_bytes(fmt: str = "PNG", seed: int = 0, **kw) -> bytes:
    im = drawing(seed)
    buf = io.BytesIO()
    if fmt == "TIFF":
        im.convert("1").save(buf, "TIFF", compression="group4")
    elif fmt == "JPEG":
        im.convert("L").save(buf, "JPEG")
    else:
        im.save(buf, fmt, **kw)
    return buf.getvalue()


def grant_xml(number: str = "D0999001", title: str = "Chair", kind: str = "S1", figures: int = 3,
              tif_prefix: str | None = None, locarno: str = "0601", cpc: bool = True) -> bytes:
    """A small ICE v4.5 grant with the parts the parser reads."""
    prefix = tif_prefix or f"US{number}-20210105"
    views = ["front left perspective", "top plan", "bottom", "rear", "left side", "right side"]
    descs = "".join(
        f'<p id="p-{i:04d}" num="{i:04d}"><figref idref="DRAWINGS">FIG. {i}</figref> is a {views[(i - 1) % 6]} '
        f'view {"of a " + title.lower() + " showing our new design" if i == 1 else "thereof"};</p>'
        for i in range(1, figures + 1))
    drawings = "".join(
        f'<figure id="Fig-EMI-D{i:05d}" num="{i:05d}"><img id="EMI-D{i:05d}" file="{prefix}-D{i:05d}.TIF" '
        f'img-content="drawing" img-format="tif"/></figure>' for i in range(0, figures + 1))
    cpc_xml = ("<classifications-cpc><main-cpc><classification-cpc><section>A</section><class>47</class>"
               "<subclass>C</subclass><main-group>7</main-group><subgroup>62</subgroup></classification-cpc>"
               "</main-cpc><further-cpc><classification-cpc><section>A</section><class>47</class>"
               "<subclass>C</subclass><main-group>1</main-group><subgroup>00</subgroup></classification-cpc>"
               "</further-cpc></classifications-cpc>") if cpc else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE us-patent-grant SYSTEM "us-patent-grant-v45-2014-04-03.dtd" [ ]>
<us-patent-grant lang="EN" dtd-version="v4.5 2014-04-03" file="{prefix}.XML" country="US">
<us-bibliographic-data-grant>
<publication-reference><document-id><country>US</country><doc-number>{number}</doc-number><kind>{kind}</kind><date>20210105</date></document-id></publication-reference>
<application-reference appl-type="design"><document-id><country>US</country><doc-number>29680800</doc-number><date>20190220</date></document-id></application-reference>
<priority-claims>
<priority-claim sequence="01"><country>EP</country><doc-number>1</doc-number><date>20180925</date></priority-claim>
<priority-claim sequence="02"><country>EP</country><doc-number>2</doc-number><date>20180301</date></priority-claim>
</priority-claims>
<classifications-ipcr><classification-ipcr><section>A</section><class>47</class><subclass>C</subclass><main-group>7</main-group><subgroup>00</subgroup></classification-ipcr></classifications-ipcr>
{cpc_xml}
<classification-locarno><edition>13</edition><main-classification>{locarno}</main-classification></classification-locarno>
<invention-title id="d2e71">{title}</invention-title>
<us-parties>
<us-applicants>
<us-applicant sequence="001"><addressbook><orgname>Acme Corp</orgname></addressbook></us-applicant>
<us-applicant sequence="002"><addressbook><last-name>Doe</last-name><first-name>Jane</first-name></addressbook></us-applicant>
</us-applicants>
<inventors><inventor sequence="001"><addressbook><last-name>Roe</last-name><first-name>Rich</first-name></addressbook></inventor></inventors>
</us-parties>
</us-bibliographic-data-grant>
<abstract id="abstract"><p>An ornamental {title.lower()}.</p></abstract>
<drawings id="DRAWINGS">{drawings}</drawings>
<description id="description">
<description-of-drawings>{descs}</description-of-drawings>
</description>
<claims id="claims"><claim id="CLM-00001" num="00001"><claim-text>The ornamental design for a {title.lower()}, as shown.</claim-text></claim></claims>
</us-patent-grant>
""".encode()


def write_patent_folder(root, number: str = "D0999001", title: str = "Chair", figures: int = 3, seed: int = 0,
                        **kw):
    folder = root / f"US{number}-20210105"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"US{number}-20210105.XML").write_bytes(grant_xml(number, title, figures=figures, **kw))
    for i in range(0, figures + 1):
        (folder / f"US{number}-20210105-D{i:05d}.TIF").write_bytes(image_bytes("TIFF", seed=seed * 100 + i))
    return folder


class FakeEncoder:
    """Deterministic stand-in for unit tests: image vectors from pixels, text vectors from words."""

    dim = 16
    image_size = 32
    model_id = "fake-encoder"

    def __init__(self):
        self.image_calls = 0
        self.text_calls = 0

    def encode_images(self, images):
        self.image_calls += 1
        out = []
        for im in images:
            arr = np.asarray(im.convert("L").resize((4, 4)), dtype=np.float32).ravel()
            v = 255.0 - arr + 1.0
            out.append(v / np.linalg.norm(v))
        return np.asarray(out, dtype=np.float32).reshape(len(images), self.dim)

    def encode_texts(self, texts):
        self.text_calls += 1
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in re.findall(r"\w+", t.lower()):
                out[i, int(hashlib.md5(w.encode()).hexdigest(), 16) % self.dim] += 1
            out[i] /= max(np.linalg.norm(out[i]), 1e-6)
        return out


class FakeBackend:
    """In-memory stand-in for the search backend in unit tests (the real ones are tested end to end)."""

    def __init__(self):
        self.docs: dict[str, dict] = {}
        self.index_calls = 0

    def index_figures(self, docs):
        self.index_calls += 1
        for d in docs:
            self.docs[d["figure_id"]] = d

    def get_patent_figures(self, publication_number):
        return [d for d in self.docs.values() if d["publication_number"] == publication_number]

    def delete_patent(self, publication_number):
        gone = [k for k, d in self.docs.items() if d["publication_number"] == publication_number]
        for k in gone:
            del self.docs[k]
        return len(gone)

    def refresh(self):
        pass

    def dims(self, fresh=False):
        return next((len(d[f]) for d in self.docs.values() for f in ("image_vector", "text_vector") if d.get(f)),
                    None)

    def encoder_ids(self):
        out: dict = {}
        for d in self.docs.values():
            if d.get("image_vector") or d.get("text_vector"):
                out[d.get("model_id")] = out.get(d.get("model_id"), 0) + 1
        return out


def blob_keys(settings) -> set[str]:
    from backend.ingest import blobstore

    return {key for key, _ in blobstore.get_blob_store(settings).list()}


def reingest_with_new_drawings(settings, root) -> tuple[set[str], set[str]]:
    """Ingest a patent, then the same patent with other drawings; returns (blobs before, blobs of the
    current version)."""
    from backend.cli_db import upgrade_database
    from backend.ingest.bulk import ingest_paths

    upgrade_database(settings.resolved_database_url)
    first = ingest_paths([write_patent_folder(root / "v1", "D0999021", "Chair", figures=2, seed=21)], settings,
                         progress=False)
    assert first.ingested == 1, first.failures
    before = blob_keys(settings)
    second = ingest_paths([write_patent_folder(root / "v2", "D0999021", "Chair", figures=2, seed=22)], settings,
                          progress=False)
    assert second.updated == 1, second.failures
    return before, blob_keys(settings) - before
