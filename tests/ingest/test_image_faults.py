"""Damaged G4 strips refused, PRISM_MAX_IMAGE_PIXELS above Pillow's own limit."""
from __future__ import annotations

import io
import random
import struct
import zlib

import pytest
from PIL import Image

from backend.ingest.images import ImageRejected, decode


def g4_tiff(size=(600, 800)) -> bytes:
    """A bilevel CCITT-G4 drawing sheet like the USPTO's (a frame and a few lines)."""
    im = Image.new("1", size, 1)
    from PIL import ImageDraw

    draw = ImageDraw.Draw(im)
    draw.rectangle((50, 50, size[0] - 50, size[1] - 50), outline=0, width=3)
    for i in range(0, size[1], 37):
        draw.line((60, 60 + i // 2, size[0] - 60, 60 + i), fill=0, width=2)
    buf = io.BytesIO()
    im.save(buf, "TIFF", compression="group4")
    return buf.getvalue()


def garble_strip(data: bytes, seed: int = 1) -> bytes:
    """Overwrite 200 bytes in the middle of the (single) strip with noise."""
    im = Image.open(io.BytesIO(data))
    offset, length = im.tag_v2[273][0], im.tag_v2[279][0]
    rng = random.Random(seed)
    out = bytearray(data)
    start = offset + length // 3
    for i in range(start, min(start + 200, offset + length - 1)):
        out[i] = rng.randrange(256)
    return bytes(out)


def bilevel_png(width: int, height: int) -> bytes:
    """A white 1-bit PNG of any size, written without allocating the image (cheap for tests)."""
    row = b"\x00" + b"\xff" * ((width + 7) // 8)
    comp = zlib.compressobj(9)
    idat = b"".join(comp.compress(row) for _ in range(height)) + comp.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
            + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


def test_an_intact_g4_sheet_decodes():
    im = decode(g4_tiff(), "sheet.tif", 10_000_000)
    assert im.size == (600, 800) and im.mode == "1"


def test_a_garbled_g4_strip_is_refused_naming_the_damage():
    # libtiff only reports the bad code words and Pillow returned a garbled image before the fix
    with pytest.raises(ImageRejected, match=r"damaged image data: Fax4Decode: .*line \d+") as e:
        decode(garble_strip(g4_tiff()), "sheet.tif", 10_000_000)
    assert e.value.status == 400


def test_a_garbled_impact_drawing_is_refused(shared_data):
    sheet = next((shared_data / "impact").glob("*/*-D00001.TIF")).read_bytes()
    decode(sheet, "sheet.tif", 60_000_000)
    with pytest.raises(ImageRejected, match="damaged image data") as e:
        decode(garble_strip(sheet), "sheet.tif", 60_000_000)
    assert e.value.status == 400


def test_every_impact_drawing_still_decodes(shared_data):
    sheets = sorted((shared_data / "impact").glob("*/*.TIF"))
    assert len(sheets) > 300
    for path in sheets:
        decode(path.read_bytes(), path.name, 60_000_000)


def test_max_image_pixels_can_be_raised_above_pillows_default():
    big = bilevel_png(9500, 9500)                     # 90.25 M pixels, above Pillow's 89.5 M default
    im = decode(big, "big.png", 100_000_000)
    assert im.size == (9500, 9500)
    with pytest.raises(ImageRejected, match="than the limit of 50000000") as e:
        decode(big, "big.png", 50_000_000)
    assert e.value.status == 413


def test_an_image_between_the_limit_and_twice_the_limit_is_refused_before_decoding():
    # Pillow raises only above twice its MAX_IMAGE_PIXELS; the check from the header catches it first
    with pytest.raises(ImageRejected) as e:
        decode(bilevel_png(1500, 1500), "bomb.png", 1_000_000)
    assert e.value.status == 413 and "1000000" in str(e.value)


def test_a_low_limit_does_not_lower_pillows_process_wide_guard():
    """A request decoded under a small PRISM_MAX_IMAGE_PIXELS must not make later, unrelated image reads in the
    same process (verification features, training, renditions) fail as decompression bombs."""
    before = Image.MAX_IMAGE_PIXELS
    buf = io.BytesIO()
    Image.new("L", (300, 300), 255).save(buf, "PNG")
    with pytest.raises(ImageRejected) as exc:
        decode(buf.getvalue(), "image", 10_000)
    assert exc.value.status == 413
    assert before == Image.MAX_IMAGE_PIXELS
