import io

import pytest
from PIL import Image

from backend.ingest import blobstore
from backend.ingest.images import ImageRejected, decode, render

from .helpers import image_bytes


@pytest.mark.parametrize("fmt", ["TIFF", "PNG", "JPEG"])
def test_formats_render_square_cropped_model_input(fmt):
    r = render(image_bytes(fmt), f"x.{fmt.lower()}", max_pixels=10_000_000, model_size=64)
    assert r.model.size == (128, 128) and r.model.mode == "RGB"
    assert (r.width, r.height) == (600, 800)
    thumb = Image.open(io.BytesIO(r.thumb_png))
    assert max(thumb.size) <= 256
    display = Image.open(io.BytesIO(r.display_png))
    # white margins trimmed: the drawing sits in x 150..450, y 150..~600 of the 600x800 sheet
    assert display.width < 400 and display.height < 650
    assert len(r.sha256) == 64


def test_corrupt_truncated_and_foreign_files_are_rejected():
    with pytest.raises(ImageRejected, match="not a readable image") as e:
        decode(b"this is not an image", "a.png", 10**7)
    assert e.value.status == 400
    with pytest.raises(ImageRejected, match="corrupt or truncated"):
        decode(image_bytes("PNG")[:300], "b.png", 10**7)
    buf = io.BytesIO()
    Image.new("RGB", (10, 10)).save(buf, "GIF")
    with pytest.raises(ImageRejected, match="GIF images are not accepted") as e:
        decode(buf.getvalue(), "c.gif", 10**7)
    assert e.value.status == 415
    with pytest.raises(ImageRejected, match="empty"):
        decode(b"", "d.png", 10**7)


def test_decompression_bomb_is_rejected_before_decoding():
    buf = io.BytesIO()
    Image.new("1", (5000, 5000), 1).save(buf, "PNG")   # tiny file, 25 MP
    with pytest.raises(ImageRejected, match="decompression bomb") as e:
        decode(buf.getvalue(), "bomb.png", max_pixels=1_000_000)
    assert e.value.status == 413


def test_file_blob_store(tmp_path):
    store = blobstore.FileBlobStore(tmp_path)
    h = "ab" + "0" * 62
    key = blobstore.figure_key(h)
    assert key == f"figures/ab/{h}.png" and blobstore.thumb_key(h).startswith("thumbs/ab/")
    store.put(key, b"png")
    store.put(key, b"png")
    assert store.get(key) == b"png" and store.exists(key)
    assert not list(tmp_path.rglob(".tmp-*"))
    store.delete(key)
    assert not store.exists(key)
    with pytest.raises(blobstore.BlobNotFound):
        store.get(key)
    with pytest.raises(ValueError, match="invalid blob key"):
        store.put("../../etc/passwd", b"x")
